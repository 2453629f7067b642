#!/usr/bin/env bash
# Soak test of whisper-server: mixed good and bad traffic on loopback for a set time, reporting
# throughput, status codes, latency and resident memory per interval (docs/soak.md).
# Builds the release server, fetches tiny.en and the speech corpus if missing; keeps the report
# and raw JSON under $CACHE/soak-results/. Exits non-zero if the run failed its verdict.
#
# usage: scripts/soak.sh [SECONDS] [soak.py options]   (default 3600: the hour run)
#   CI runs scripts/soak.sh 180 --interval 30 --warm-up 90 --rss-growth-mib 128 --burst-every 20
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
PYTHON="$CACHE/venv-py1/bin/python"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SECONDS_TO_RUN="${1:-3600}"
shift || true
log() { echo "soak: $*" >&2; }

[ -x "$PYTHON" ] || { log "no Python venv at $PYTHON: run scripts/install-deps.sh"; exit 1; }
cd "$ROOT"
server="${WHISPER_SERVER_BIN:-}"
if [ -z "$server" ]; then
  log "building the release server"
  cargo build -q --release -p whisper-server --bin whisper-server
  server="$TARGET/release/whisper-server"
fi
model="${WHISPER_TEST_MODEL:-}"
[ -n "$model" ] || model="$(scripts/fetch-model.sh tiny.en | tail -n 1)"
manifest="${WHISPER_SPEECH_MANIFEST:-}"
[ -n "$manifest" ] || manifest="$(scripts/fetch-speech-corpus.sh | tail -n 1)"

results="$CACHE/soak-results"
mkdir -p "$results"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
log "report: $results/$stamp.md"
"$PYTHON" scripts/soak/soak.py --server-bin "$server" --model "$model" --manifest "$manifest" \
  --clips-dir "$CACHE/bench-clips-v1" --seconds "$SECONDS_TO_RUN" \
  --out "$results/$stamp.md" --json "$results/$stamp.json" "$@"
