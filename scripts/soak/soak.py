"""Soak: mixed traffic against one whisper-server for a set time, on loopback, from a bounded
load generator. Good clips of several lengths, bad inputs, oversized uploads, clients that hang
up mid-upload and mid-inference or stall, and bursts past the queue. Reports throughput, every
status code, latency of good requests and resident memory per interval, and fails on a 5xx, a
lost request, a wrong answer or memory growth past its bound (tally.verdict).

Run it with scripts/soak.sh, which builds and fetches what it needs; docs/soak.md explains the
figures.
"""

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import tally  # noqa: E402
from clips import make_clips  # noqa: E402
from traffic import Clip, Limits, Traffic  # noqa: E402

LIMITS = Limits(max_upload_bytes=5_000_000, header_read_seconds=5.0,
                upload_timeout_seconds=5.0, min_upload_bytes_per_second=65_536)
QUEUE = 4
# What each steady client sends next, by weight: mostly good clips, the rest misbehaviour.
MIX = (("good:short", 25), ("good:medium", 20), ("good:utterance", 20), ("good:long", 4),
       ("bad", 8), ("oversized", 4), ("hang-up:upload", 5), ("hang-up:inference", 4),
       ("stalled:upload", 5), ("stalled:head", 5))


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server-bin", type=Path, required=True)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--manifest", type=Path, required=True, help="real-speech corpus manifest")
    p.add_argument("--clips-dir", type=Path, required=True)
    p.add_argument("--seconds", type=float, default=3600)
    p.add_argument("--interval", type=float, default=60, help="report every this many seconds")
    p.add_argument("--warm-up", type=float, default=300,
                   help="seconds after which resident memory must stay within its bound")
    p.add_argument("--rss-growth-mib", type=float, default=32,
                   help="how far resident memory may rise over the warm-up's peak")
    p.add_argument("--clients", type=int, default=4, help="steady clients")
    p.add_argument("--burst-every", type=float, default=30)
    p.add_argument("--burst-size", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="raw outcomes and memory samples")
    p.add_argument("--out", type=Path, help="also write the report here")
    return p.parse_args()


def load_clips(a) -> list[Clip]:
    bench = {c.name: c for c in make_clips(a.clips_dir, a.manifest)}
    clips = [Clip(n, bench[n].path.read_bytes(), bench[n].reference)
             for n in ("short", "medium", "long")]
    # Real recorded utterances of several lengths, drawn from each time "good:utterance" is.
    for i, line in enumerate(a.manifest.read_text().splitlines()):
        wav, reference = line.split("\t", 1)
        clips.append(Clip(f"utterance-{i}", Path(wav).read_bytes(), reference))
    return clips


def start_server(a) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([
        str(a.server_bin), "--model", str(a.model), "--listen", f"127.0.0.1:{port}",
        "--threads", str(a.threads), "--queue", str(QUEUE), "--log", "warn",
        "--max-upload-bytes", str(LIMITS.max_upload_bytes),
        "--header-read-timeout-seconds", str(int(LIMITS.header_read_seconds)),
        "--upload-timeout-seconds", str(int(LIMITS.upload_timeout_seconds)),
        "--min-upload-bytes-per-second", str(LIMITS.min_upload_bytes_per_second)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"whisper-server exited with {process.returncode} while starting")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    sys.exit("whisper-server not ready within 120 s")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def steady_client(traffic: Traffic, utterances: list[str], until: float,
                        rng: random.Random, outcomes: list) -> None:
    kinds, weights = zip(*MIX)
    while time.monotonic() < until:
        kind = rng.choices(kinds, weights)[0]
        if kind == "good:utterance":
            outcome = await traffic.good(rng.choice(utterances))
        elif kind.startswith("good:"):
            outcome = await traffic.good(kind.removeprefix("good:"))
        else:
            outcome = await {
                "bad": traffic.bad, "oversized": traffic.oversized,
                "hang-up:upload": traffic.hang_up_mid_upload,
                "hang-up:inference": traffic.hang_up_mid_inference,
                "stalled:upload": traffic.stalled_upload, "stalled:head": traffic.stalled_head,
            }[kind]()
        outcomes.append(outcome)
        if outcome.result == tally.THROTTLED:
            await asyncio.sleep(0.5)  # as a client honouring Retry-After would


async def bursts(traffic: Traffic, a, until: float, outcomes: list) -> None:
    """Every `burst_every` seconds, `burst_size` short clips at once: past the queue."""
    while time.monotonic() + a.burst_every < until:
        await asyncio.sleep(a.burst_every)
        outcomes.extend(await asyncio.gather(
            *(traffic.good("short") for _ in range(a.burst_size))))


async def sample_memory(pid: int, started: float, until: float, samples: list) -> None:
    while time.monotonic() < until:
        samples.append(tally.MemorySample(time.monotonic() - started, rss_mib(pid)))
        await asyncio.sleep(5)


async def soak(a, base: str, pid: int, clips: list[Clip]) -> tuple[list, list, float]:
    started = time.monotonic()
    until = started + a.seconds
    traffic = Traffic(base, clips, LIMITS, started)
    utterances = [c.name for c in clips if c.name.startswith("utterance-")]
    outcomes: list = []
    memory: list = []
    rng = random.Random(a.seed)
    # Priming: the largest inputs first, several at once, so that the buffers they need are
    # allocated inside the warm-up however slowly the rest of the run gets going.
    sampler = asyncio.create_task(sample_memory(pid, started, until, memory))
    outcomes.extend(await asyncio.gather(
        *(traffic.good(name) for name in ("long", "long", "medium", "short")),
        traffic.oversized(), traffic.bad()))
    tasks = [steady_client(traffic, utterances, until, random.Random(rng.random()), outcomes)
             for _ in range(a.clients)]
    await asyncio.gather(*tasks, bursts(traffic, a, until, outcomes), sampler)
    # One sample after the last requests, when nothing is in flight.
    await asyncio.sleep(1)
    memory.append(tally.MemorySample(time.monotonic() - started, rss_mib(pid)))
    await traffic.close()
    return outcomes, memory, time.monotonic() - started


def report(a, outcomes, memory, duration, alive: bool) -> tuple[str, tally.Verdict]:
    clips = ["short", "medium"]
    intervals = tally.split(outcomes, memory, a.interval, a.seconds)
    v = tally.verdict(outcomes, memory, a.warm_up, a.rss_growth_mib, intervals, clips)
    if not alive:
        v.failures.append("the server process died")
    counts = Counter(o.kind for o in outcomes)
    kinds = ", ".join(f"{k.removeprefix('good:')} {n}" for k, n in sorted(counts.items())
                      if not k.startswith("good:utterance"))
    utterances = sum(n for k, n in counts.items() if k.startswith("good:utterance"))
    drift = ", ".join(f"{c} {r:.2f}x" for c, r in v.latency_drift.items()) or "-"
    lines = [
        f"# Soak: {duration:.0f} s, {a.clients} steady clients, a burst of {a.burst_size} "
        f"every {a.burst_every:.0f} s, queue {QUEUE}, {a.threads} threads",
        "",
        f"- requests: {len(outcomes)} ({kinds}, real utterances {utterances})",
        f"- resident memory: warm-up peak {v.warm_rss_mib:.0f} MiB (first {a.warm_up:.0f} s), "
        f"peak after it {v.steady_rss_mib:.0f} MiB, bound {v.warm_rss_mib + a.rss_growth_mib:.0f}"
        f" MiB; at the end {memory[-1].rss_mib:.0f} MiB",
        f"- good-request median latency, last interval over the first: {drift}",
        f"- verdict: {'PASSED' if v.passed else 'FAILED'}",
        *(f"  - {f}" for f in v.failures),
        "",
        tally.header(clips),
        *(tally.row(i, clips) for i in intervals),
    ]
    return "\n".join(lines), v


def main() -> None:
    a = parse()
    clips = load_clips(a)
    process, base = start_server(a)
    try:
        outcomes, memory, duration = asyncio.run(soak(a, base, process.pid, clips))
        alive = process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=60)
    text, v = report(a, outcomes, memory, duration, alive)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    if a.json:
        a.json.write_text(json.dumps({"outcomes": [asdict(o) for o in outcomes],
                                      "memory": [asdict(m) for m in memory]}))
    sys.exit(0 if v.passed else 1)


if __name__ == "__main__":
    main()
