#!/usr/bin/env bash
# The benchmark's second long recording (clip "long-2", scripts/bench/clips.py): about 2.7
# minutes of real recorded English speech that shares no utterance with the accuracy corpus
# (scripts/fetch-speech-corpus.sh) or the first long clip, from two Debian packages:
#   asterisk-core-sounds-en(-wav)  CC-BY-SA-3.0, telephone prompts recorded by Allison Smith,
#       8 kHz: the prompts the corpus does not take. Eligible exactly as for the corpus
#       (top-level names, plain-prose transcripts, 2 to 30 s, sorted by name); the corpus takes
#       rows 1, 7, 13, ... of that list, this takes rows 4, 10, 16, ... (31 prompts, 146 s).
#   sphinxtrain                    BSD-2-clause (as Debian ships it; a TIMIT "SA1" sentence),
#       16 kHz: sa1.wav, a second speaker, placed after the SPEAKER2_AFTER-th prompt.
# Debian ships no other real English speech with transcripts (see docs/benchmarks.md).
# Every utterance is converted to 16 kHz mono s16 and they are joined in that fixed order with
# 0.5 s of silence between them, repeatably (same packages, same bytes). Writes, in the folder:
#   long2.wav       the recording
#   long2.txt       its reference transcript: the utterances' texts joined by spaces, one line
#   utterances.tsv  start s TAB end s TAB source TAB text, one line per utterance
#   SOURCE          packages, versions and licences; the packages' copyright files beside it
# and prints the WAV's path as the last line; everything else goes to stderr.
# Idempotent: a finished folder is reused; delete it to rebuild.
#
# usage: scripts/fetch-long-recording-2.sh
# needs: apt-get, dpkg-deb, sox (scripts/install-deps.sh installs sox)
set -euo pipefail

CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
OUT="$CACHE/long-recording-2-v1"
WAV="$OUT/long2.wav"
# Stride and offset through the eligible prompts: fetch-speech-corpus.sh takes the rows with
# NR % 6 == 1, this the rows with NR % 6 == 4, so the two never share a prompt.
STRIDE=6
OFFSET=4
SPEAKER2_AFTER=16
GAP_SECONDS=0.5
log() { echo "fetch-long-recording-2: $*" >&2; }

if [ -s "$WAV" ] && [ -s "$OUT/long2.txt" ]; then
  log "$WAV already exists"
  echo "$WAV"
  exit 0
fi
for tool in apt-get dpkg-deb sox soxi; do
  command -v "$tool" >/dev/null || { log "missing $tool (install sox / run on Debian)"; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/debs" "$WORK/root"
log "downloading the Debian packages"
(cd "$WORK/debs" && apt-get download -q asterisk-core-sounds-en-wav asterisk-core-sounds-en \
  sphinxtrain >&2 2>/dev/null) || {
  log "apt-get download failed (run apt-get update?)"; exit 1; }
for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$WORK/root"; done

AST="$WORK/root/usr/share/asterisk/sounds/en_US_f_Allison"
AST_TEXT="$WORK/root/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
SA1="$(find "$WORK/root/usr/lib" -path '*/sphinxtrain/python/cmusphinx/test/sa1.wav' | head -n 1)"
[ -n "$SA1" ] || { log "sphinxtrain has no sa1.wav"; exit 1; }
STAGE="$WORK/out"
mkdir -p "$STAGE" "$WORK/parts"
: >"$STAGE/utterances.tsv"

# The telephone prompts, chosen by the same rule as fetch-speech-corpus.sh.
zcat "$AST_TEXT" | LC_ALL=C sort |
  sed -nE 's/^([a-z0-9_-]+): (.+)$/\1\t\2/p' |
  grep -vP '\t.*[^A-Za-z0-9 .,?!'"'"'-]' |
  while IFS=$'\t' read -r name text; do
    wav="$AST/$name.wav"
    [ -f "$wav" ] || continue
    awk -v d="$(soxi -D "$wav")" 'BEGIN { exit !(d >= 2 && d <= 30) }' || continue
    printf '%s\t%s\n' "$name" "$text"
  done >"$WORK/eligible.tsv"
awk -v s="$STRIDE" -v o="$OFFSET" 'NR % s == o % s' "$WORK/eligible.tsv" >"$WORK/prompts.tsv"
prompts=$(wc -l <"$WORK/prompts.tsv")
if [ "$prompts" -le "$SPEAKER2_AFTER" ]; then
  log "only $prompts telephone prompts left over by the corpus; expected more than $SPEAKER2_AFTER"
  exit 1
fi
{
  head -n "$SPEAKER2_AFTER" "$WORK/prompts.tsv" | sed 's/^/asterisk\t/'
  # Sphinx transcripts read "<s> TEXT </s> (ID)".
  sed -E 's/^<s>[[:space:]]*(.*[^[:space:]])[[:space:]]*<\/s>.*$/sa1\t\1/' \
    "$(dirname "$SA1")/sa1.lsn" | head -n 1 | sed 's/^/sphinxtrain\t/'
  tail -n +"$((SPEAKER2_AFTER + 1))" "$WORK/prompts.tsv" | sed 's/^/asterisk\t/'
} >"$WORK/order.tsv"

# -D: no dither, so the gaps are digital silence (all zero samples).
sox -D -n -r 16000 -c 1 -b 16 "$WORK/parts/gap.wav" trim 0 "$GAP_SECONDS"
parts=()
start=0
i=0
while IFS=$'\t' read -r package name text; do
  case "$package" in
    asterisk) source="$AST/$name.wav" label="asterisk-core-sounds-en:$name" ;;
    sphinxtrain) source="$SA1" label="sphinxtrain:sa1" ;;
  esac
  part="$WORK/parts/$(printf '%03d' "$i").wav"
  # -R: dither from a fixed seed, so the same packages always give the same bytes.
  sox -R "$source" -r 16000 -c 1 -b 16 "$part"
  [ "$i" -eq 0 ] || parts+=("$WORK/parts/gap.wav")
  parts+=("$part")
  end=$(awk -v s="$start" -v d="$(soxi -D "$part")" 'BEGIN { printf "%.3f", s + d }')
  printf '%s\t%s\t%s\t%s\n' "$start" "$end" "$label" "$text" >>"$STAGE/utterances.tsv"
  start=$(awk -v e="$end" -v g="$GAP_SECONDS" 'BEGIN { printf "%.3f", e + g }')
  i=$((i + 1))
done <"$WORK/order.tsv"
sox "${parts[@]}" "$STAGE/long2.wav"
cut -f4 "$STAGE/utterances.tsv" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//' |
  paste -sd ' ' >"$STAGE/long2.txt"

seconds=$(soxi -D "$STAGE/long2.wav")
if ! awk -v d="$seconds" 'BEGIN { exit !(d >= 120 && d <= 180) }'; then
  log "the recording is $seconds s long; expected 2 to 3 minutes"
  exit 1
fi
for package in asterisk-core-sounds-en asterisk-core-sounds-en-wav sphinxtrain; do
  deb="$(ls "$WORK"/debs/"$package"_*.deb)"
  printf '%s\t%s\n' "$package" "$(dpkg-deb -f "$deb" Version)" >>"$STAGE/SOURCE"
  cp "$WORK/root/usr/share/doc/$package/copyright" "$STAGE/copyright.$package"
done
printf 'licences\tasterisk-core-sounds-en: CC-BY-SA-3.0 (Allison Smith); sphinxtrain: BSD-2-clause\n' \
  >>"$STAGE/SOURCE"

# Publish atomically: a half-built folder never looks finished.
mkdir -p "$CACHE"
rm -rf "$OUT.tmp"
mv "$STAGE" "$OUT.tmp"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
log "$i utterances ($((i - 1)) telephone prompts, 1 TIMIT sentence), $seconds s, in $OUT"
echo "$WAV"
