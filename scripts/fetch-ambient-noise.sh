#!/usr/bin/env bash
# Real recorded ambience for the VAD benchmark's paused recording (scripts/bench/paused_clip.py),
# from one Debian package: ufoai-sound 2.5-2 (UFO: Alien Invasion's sounds, main), whose
# copyright file gives both recordings below GPL-2+ (credited to Axis REC, Martin Gerhardy,
# Nexuiz, Max Neave, Michael "Tenshihan" Quinn):
#   street.wav  sound/ambience/city_abnd_ufoai_atm.ogg  106 s: outdoor street, cars passing,
#               wind and traffic rumble
#   night.wav   sound/ambience/ufo_night_atm.ogg        114 s: outdoor night, crickets, frogs
# Both are converted to 16 kHz mono s16 WAV at their recorded level (the benchmark sets the
# level), repeatably (same package, same bytes). Writes SOURCE (package, version, files,
# licence) and the package's copyright file beside them and prints the folder as the last
# line; everything else goes to stderr.
# Idempotent: a finished folder is reused; delete it to rebuild.
#
# usage: scripts/fetch-ambient-noise.sh
# needs: apt-get, dpkg-deb, unzip, sox (scripts/install-deps.sh installs them)
set -euo pipefail

CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
NOISE="$CACHE/ambient-noise-v1"
PACKAGE=ufoai-sound
VERSION=2.5-2
PK3=usr/share/games/ufoai/base/0snd.pk3
log() { echo "fetch-ambient-noise: $*" >&2; }

if [ -s "$NOISE/SOURCE" ]; then
  log "$NOISE already exists"
  echo "$NOISE"
  exit 0
fi
for tool in apt-get dpkg-deb unzip sox; do
  command -v "$tool" >/dev/null || { log "missing $tool (run scripts/install-deps.sh)"; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
log "downloading $PACKAGE $VERSION"
(cd "$WORK" && apt-get download -q "$PACKAGE=$VERSION" >&2 2>/dev/null) || {
  log "apt-get download $PACKAGE=$VERSION failed (run apt-get update?)"; exit 1; }
dpkg-deb -x "$WORK"/"$PACKAGE"_*.deb "$WORK/root"

STAGE="$WORK/noise"
mkdir -p "$STAGE"
# take NAME FILE: one ambience recording out of the game's sound archive, as 16 kHz mono.
take() {
  unzip -p "$WORK/root/$PK3" "sound/ambience/$2" >"$WORK/$2"
  # -R: dither from a fixed seed, so the same package always gives the same bytes.
  sox -R "$WORK/$2" -r 16000 -c 1 -b 16 "$STAGE/$1.wav"
  printf '%s.wav\t%s %s\t%s:sound/ambience/%s\tGPL-2+\n' "$1" "$PACKAGE" "$VERSION" "$PK3" "$2" \
    >>"$STAGE/SOURCE"
}
take street city_abnd_ufoai_atm.ogg
take night ufo_night_atm.ogg
cp "$WORK/root/usr/share/doc/$PACKAGE/copyright" "$STAGE/copyright"

# Publish atomically: a half-built folder never looks finished.
mkdir -p "$CACHE"
rm -rf "$NOISE.tmp"
mv "$STAGE" "$NOISE.tmp"
rm -rf "$NOISE"
mv "$NOISE.tmp" "$NOISE"
log "$(wc -l <"$NOISE/SOURCE") recordings in $NOISE"
echo "$NOISE"
