#!/usr/bin/env bash
# Builds the multilingual held set from Debian packages: telephone prompts recorded in Spanish
# (asterisk-core-sounds-es(-wav), es_MX) and Canadian French (asterisk-core-sounds-fr(-wav),
# fr_CA), each with its same-language transcript and the English transcript of the prompt of
# the same name (asterisk-core-sounds-en), all CC-BY-SA-3.0. Every clip is converted to 16 kHz
# mono s16 WAV. Writes manifest.tsv (wav path TAB language code TAB same-language reference
# TAB English reference, empty when the English catalogue has no such prompt) and prints its
# path as the last line; everything else goes to stderr.
# Idempotent: a finished corpus is reused; delete the folder to rebuild it.
#
# usage: scripts/fetch-multilingual-corpus.sh
# needs: apt-get, dpkg-deb, iconv, sox (scripts/install-deps.sh installs sox)
set -euo pipefail

CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
CORPUS="$CACHE/multilingual-corpus-v1"
MANIFEST="$CORPUS/manifest.tsv"
# How many prompts to take per language, and the stride through the sorted eligible names that
# spreads them across the whole catalogue deterministically.
PER_LANGUAGE=18
STRIDE=8
# Shortest transcript kept, in words of two letters or more: single words, digits and spelled
# letters say nothing about a language model's sentences.
MIN_WORDS=4
log() { echo "fetch-multilingual-corpus: $*" >&2; }

if [ -s "$MANIFEST" ]; then
  log "$MANIFEST already exists"
  echo "$MANIFEST"
  exit 0
fi
for tool in apt-get dpkg-deb iconv sox soxi; do
  command -v "$tool" >/dev/null || { log "missing $tool (install sox / run on Debian)"; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/debs" "$WORK/root"
log "downloading the Debian packages"
(cd "$WORK/debs" && apt-get download -q asterisk-core-sounds-es-wav asterisk-core-sounds-es \
  asterisk-core-sounds-fr-wav asterisk-core-sounds-fr asterisk-core-sounds-en >&2 2>/dev/null) || {
  log "apt-get download failed (run apt-get update?)"; exit 1; }
for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$WORK/root"; done

SOUNDS="$WORK/root/usr/share/asterisk/sounds"
DOCS="$WORK/root/usr/share/doc"
STAGE="$WORK/corpus"
mkdir -p "$STAGE/wav"
: >"$STAGE/manifest.tsv"

# transcripts LANG: the package's "name: text" lines as "name TAB text", sorted by name, in
# UTF-8 (the files are UTF-8 today; one that is not is read as Latin-1, their older encoding).
transcripts() {
  local gz="$DOCS/asterisk-core-sounds-$1/core-sounds-$1.txt.gz" raw="$WORK/$1.raw"
  zcat "$gz" >"$raw"
  if ! iconv -f UTF-8 -t UTF-8 "$raw" >/dev/null 2>&1; then
    log "core-sounds-$1.txt is not UTF-8; converting it from ISO-8859-1"
    iconv -f ISO-8859-1 -t UTF-8 "$raw" -o "$raw.utf8" && mv "$raw.utf8" "$raw"
  fi
  tr -d '\r' <"$raw" | LC_ALL=C sort | sed -nE 's/^([a-z0-9_-]+): (.+)$/\1\t\2/p'
}

transcripts en >"$WORK/en.tsv.raw"

# The English transcripts note sounds in parentheses or brackets: not words anyone says.
sed -E 's/ *[([][^])]*[])]//g' "$WORK/en.tsv.raw" >"$WORK/en.tsv"

# take LANG VOICE: appends PER_LANGUAGE prompts of one language to the manifest. Eligible:
# top-level names with plain-prose transcripts (no digits, [tones], (sounds), * or # keys,
# acronyms read letter by letter, web addresses), at least MIN_WORDS words, 2 to 20 s long;
# sorted by name, every STRIDE-th one.
take() {
  local lang="$1" voice="$2" eligible name text english
  transcripts "$lang" |
    grep -vP '\t.*([0-9\[\]()*#<>]|\b[A-Z]{2,}\b|www\.)' |
    awk -F'\t' -v min="$MIN_WORDS" '{
      words = 0
      for (i = split($2, w, " "); i > 0; i--) if (w[i] ~ /[[:alpha:]][[:alpha:]]/) words++
      if (words >= min) print
    }' |
    while IFS=$'\t' read -r name text; do
      wav="$SOUNDS/$voice/$name.wav"
      [ -f "$wav" ] || continue
      awk -v d="$(soxi -D "$wav")" 'BEGIN { exit !(d >= 2 && d <= 20) }' || continue
      printf '%s\t%s\n' "$name" "$text"
    done >"$WORK/eligible-$lang.tsv"
  eligible=$(wc -l <"$WORK/eligible-$lang.tsv")
  if [ "$eligible" -lt $((PER_LANGUAGE * STRIDE - STRIDE + 1)) ]; then
    log "only $eligible eligible $lang prompts; expected at least $((PER_LANGUAGE * STRIDE))"
    exit 1
  fi
  while IFS=$'\t' read -r name text; do
    english="$(awk -F'\t' -v n="$name" '$1 == n { print $2; exit }' "$WORK/en.tsv")"
    sox "$SOUNDS/$voice/$name.wav" -r 16000 -c 1 -b 16 "$STAGE/wav/$lang-$name.wav"
    printf '%s\t%s\t%s\t%s\n' "$CORPUS/wav/$lang-$name.wav" "$lang" "$text" "$english" \
      >>"$STAGE/manifest.tsv"
  done < <(awk -v s="$STRIDE" -v n="$PER_LANGUAGE" 'NR % s == 1 && c++ < n' \
    "$WORK/eligible-$lang.tsv")
}

take es es_MX_f_Allison
take fr fr_CA_f_June

count=$(wc -l <"$STAGE/manifest.tsv")
if [ "$count" -ne $((2 * PER_LANGUAGE)) ]; then
  log "only $count prompts; expected $((2 * PER_LANGUAGE))"
  exit 1
fi
# Publish atomically: a half-built corpus never looks finished.
mkdir -p "$CACHE"
rm -rf "$CORPUS.tmp"
mv "$STAGE" "$CORPUS.tmp"
rm -rf "$CORPUS"
mv "$CORPUS.tmp" "$CORPUS"
total=$(cut -f1 "$MANIFEST" | xargs soxi -D | awk '{ s += $1 } END { printf "%.1f", s }')
with_english=$(awk -F'\t' '$4 != ""' "$MANIFEST" | wc -l)
log "$count prompts ($with_english with an English reference), $total s of speech"
echo "$MANIFEST"
