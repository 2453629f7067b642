"""Time to the first streamed delta against time to the whole transcript (stream=true).

Starts the server binary once, then alternates, `--runs` times: a plain json request (the whole
transcript) and a streamed one (time to its first `transcript.text.delta`, and to its
`transcript.text.done`), so both see the same machine. Prints medians and their ratios.

    python3 scripts/bench/stream_latency.py --server-bin target/release/whisper-server \
        --model ~/.cache/whisper-operator/models/ggml-tiny.en.bin \
        --clip ~/.cache/whisper-operator/bench-clips-v1/long.wav --runs 5
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import Server  # noqa: E402


def streamed(server: Server, session: requests.Session, audio: bytes) -> tuple[float, float, str]:
    """Seconds to the first delta, seconds to the done event, and the done text."""
    started = time.perf_counter()
    first = None
    with session.post(f"{server.base}/v1/audio/transcriptions",
                      files={"file": ("clip.wav", audio, "audio/wav")},
                      data={"response_format": "json", "stream": "true"},
                      stream=True, timeout=600) as response:
        response.raise_for_status()
        for line in response.iter_lines(decode_unicode=True):
            if not line or not line.startswith("data: "):
                continue
            event = json.loads(line.removeprefix("data: "))
            if event["type"] == "transcript.text.delta" and first is None:
                first = time.perf_counter() - started
            if event["type"] == "transcript.text.done":
                return first or 0.0, time.perf_counter() - started, event["text"]
            if event["type"] == "error":
                raise RuntimeError(event["error"]["message"])
    raise RuntimeError("the stream ended without transcript.text.done")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-bin", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    a = parser.parse_args()

    audio = a.clip.read_bytes()
    server = Server("server", a.server_bin, a.model, a.threads)
    session = requests.Session()
    try:
        server.request(session, audio)  # warm-up, not counted
        whole, first, done = [], [], []
        for _ in range(a.runs):
            seconds, text = server.request(session, audio)
            whole.append(seconds)
            to_first, to_done, streamed_text = streamed(server, session, audio)
            first.append(to_first)
            done.append(to_done)
            if streamed_text != text:
                print("note: the streamed text differs from the plain one", file=sys.stderr)
    finally:
        server.close()

    med = statistics.median
    print(f"clip {a.clip.name}, {a.threads} threads, {a.runs} runs (medians, seconds)")
    print("| plain json, whole | stream, first delta | stream, done | first delta / whole | done / whole |")
    print("|---|---|---|---|---|")
    print(f"| {med(whole):.3f} | {med(first):.3f} | {med(done):.3f} | "
          f"{med(first) / med(whole):.2f}x | {med(done) / med(whole):.2f}x |")
    print(f"ranges: whole {min(whole):.3f}-{max(whole):.3f}, first {min(first):.3f}-{max(first):.3f}, "
          f"done {min(done):.3f}-{max(done):.3f}")


if __name__ == "__main__":
    main()
