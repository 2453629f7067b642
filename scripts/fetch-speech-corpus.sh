#!/usr/bin/env bash
# Builds the real-speech accuracy set from Debian packages (real recordings with reference
# transcripts): pocketsphinx-testdata (BSD-2: LibriVox reader, card names, "go forward", digits)
# and asterisk-core-sounds-en(-wav) (CC-BY-SA-3.0: telephone prompts, one professional voice).
# Every clip is converted to 16 kHz mono s16 WAV so the server, bare whisper-rs and
# faster-whisper all see the same samples. Writes manifest.tsv (wav path TAB reference text)
# and prints its path as the last line; everything else goes to stderr.
# Idempotent: a finished corpus is reused; delete the folder to rebuild it.
#
# usage: scripts/fetch-speech-corpus.sh
# needs: apt-get, dpkg-deb, sox (scripts/install-deps.sh installs sox)
set -euo pipefail

CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
CORPUS="$CACHE/speech-corpus-v1"
MANIFEST="$CORPUS/manifest.tsv"
# How many telephone prompts to take, and the stride through the sorted eligible names that
# spreads them across the whole catalogue (varied lengths and wording) deterministically.
ASTERISK_COUNT=30
ASTERISK_STRIDE=6
log() { echo "fetch-speech-corpus: $*" >&2; }

if [ -s "$MANIFEST" ]; then
  log "$MANIFEST already exists"
  echo "$MANIFEST"
  exit 0
fi
for tool in apt-get dpkg-deb sox soxi; do
  command -v "$tool" >/dev/null || { log "missing $tool (install sox / run on Debian)"; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/debs" "$WORK/root"
log "downloading the Debian packages"
(cd "$WORK/debs" && apt-get download -q pocketsphinx-testdata asterisk-core-sounds-en-wav \
  asterisk-core-sounds-en >&2 2>/dev/null) || {
  log "apt-get download failed (run apt-get update?)"; exit 1; }
for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$WORK/root"; done

PS="$WORK/root/usr/share/pocketsphinx/test/data"
AST="$WORK/root/usr/share/asterisk/sounds/en_US_f_Allison"
AST_TEXT="$WORK/root/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
STAGE="$WORK/corpus"
mkdir -p "$STAGE/wav"
: >"$STAGE/manifest.tsv"

# add ID TEXT SOX_INPUT_ARGS...: converts one recording and appends it to the manifest.
add() {
  local id="$1" text="$2"
  shift 2
  sox "$@" -r 16000 -c 1 -b 16 "$STAGE/wav/$id.wav"
  printf '%s\t%s\n' "$CORPUS/wav/$id.wav" "$text" >>"$STAGE/manifest.tsv"
}

# Sphinx transcripts read "<s> TEXT </s> (ID)".
sphinx_transcripts() {
  sed -E 's/^<s>[[:space:]]*(.*[^[:space:]])[[:space:]]*<\/s>[[:space:]]*\((.*)\)$/\2\t\1/' "$1"
}

while IFS=$'\t' read -r id text; do
  add "librivox-$id" "$text" "$PS/librivox/$id.wav"
done < <(sphinx_transcripts "$PS/librivox/transcription")
while IFS=$'\t' read -r id text; do
  add "cards-$id" "$text" "$PS/cards/$id.wav"
done < <(sphinx_transcripts "$PS/cards/cards.transcription")
add goforward "go forward ten meters" -t raw -r 16000 -e signed -b 16 -c 1 "$PS/goforward.raw"
add tidigits-dhd.2934z "two nine three four zero" -t raw -r 16000 -e signed -b 16 -c 1 \
  "$PS/tidigits/dhd.2934z.raw"

# Telephone prompts: top-level names with plain-prose transcripts (no [tones], no * or #
# keys, no digit strings read as symbols), 2 to 30 s long, sorted by name, every
# ASTERISK_STRIDE-th one.
zcat "$AST_TEXT" | LC_ALL=C sort |
  sed -nE 's/^([a-z0-9_-]+): (.+)$/\1\t\2/p' |
  grep -vP '\t.*[^A-Za-z0-9 .,?!'"'"'-]' |
  while IFS=$'\t' read -r name text; do
    wav="$AST/$name.wav"
    [ -f "$wav" ] || continue
    awk -v d="$(soxi -D "$wav")" 'BEGIN { exit !(d >= 2 && d <= 30) }' || continue
    printf '%s\t%s\n' "$name" "$text"
  done >"$WORK/eligible.tsv"
eligible=$(wc -l <"$WORK/eligible.tsv")
if [ "$eligible" -lt $((ASTERISK_COUNT * ASTERISK_STRIDE - ASTERISK_STRIDE + 1)) ]; then
  log "only $eligible eligible telephone prompts; expected at least $((ASTERISK_COUNT * ASTERISK_STRIDE))"
  exit 1
fi
while IFS=$'\t' read -r name text; do
  add "asterisk-$name" "$text" "$AST/$name.wav"
done < <(awk -v s="$ASTERISK_STRIDE" -v n="$ASTERISK_COUNT" 'NR % s == 1 && c++ < n' "$WORK/eligible.tsv")

count=$(wc -l <"$STAGE/manifest.tsv")
if [ "$count" -lt 40 ]; then
  log "only $count utterances; expected at least 40"
  exit 1
fi
# Publish atomically: a half-built corpus never looks finished.
mkdir -p "$CACHE"
rm -rf "$CORPUS.tmp"
mv "$STAGE" "$CORPUS.tmp"
rm -rf "$CORPUS"
mv "$CORPUS.tmp" "$CORPUS"
total=$(cut -f1 "$MANIFEST" | xargs soxi -D | awk '{ s += $1 } END { printf "%.1f", s }')
log "$count utterances, $total s of speech"
echo "$MANIFEST"
