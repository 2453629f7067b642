#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, obtain the tiny.en model (imported from
# its CTranslate2 weights by whisper-server itself), build, serve on 127.0.0.1:8000 and transcribe a
# spoken sample. Leaves the server running in the foreground; `--once` stops after the sample.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
LISTEN="${WHISPER_LISTEN:-127.0.0.1:8000}"
ONCE=0; [ "${1:-}" = "--once" ] && ONCE=1

scripts/install-deps.sh
# The f16 file; the server quantises its matrices to q8_0 while loading (--weights, default
# q8_0: about 10% faster than f16 on CPUs, same corpus WER, docs/benchmarks.md).
MODEL="$(scripts/fetch-model.sh tiny.en | tail -n 1)"
cargo build --release -q -p whisper-server
BIN=target/release/whisper-server

SAMPLE="$CACHE/samples/hello.wav"
if [ ! -f "$SAMPLE" ]; then
  mkdir -p "$(dirname "$SAMPLE")"
  tmp="$(mktemp --suffix .wav)"
  flite -voice rms -t "Hello world. The quick brown fox jumps over the lazy dog." -o "$tmp"
  sox "$tmp" -r 16000 -c 1 -b 16 "$SAMPLE"
  rm -f "$tmp"
fi

"$BIN" --model "$MODEL" --listen "$LISTEN" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://$LISTEN/readyz" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { echo "whisper-server exited before it was ready" >&2; exit 1; }
  sleep 0.2
done

echo
echo "POST http://$LISTEN/v1/audio/transcriptions  ($SAMPLE)"
curl -fsS "http://$LISTEN/v1/audio/transcriptions" -F file=@"$SAMPLE" -F response_format=json
echo
if [ $ONCE -eq 1 ]; then exit 0; fi
echo
echo "whisper-server is serving on http://$LISTEN"
echo "  try it in a browser: http://$LISTEN/  (pick a file, watch the transcript stream in)"
echo "  metrics: http://$LISTEN/metrics    Ctrl-C stops it."
wait $SERVER
