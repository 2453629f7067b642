"""Measurements: medians in shuffled order, a CPU hog beside them, concurrent clients, corpus WER."""

import contextlib
import os
import random
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from wer import corpus_wer


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def ratio(a: float, b: float | None) -> str:
    """a / b for a table cell; "-" without a baseline."""
    return f"{a / b:.2f}x" if b else "-"


# Between two engines' runs: the previous engine's threads (CTranslate2's OpenMP workers spin
# for a while after their work) must not be the next one's neighbour, and the server's CPU load
# sampler must not count them as another process's load.
# BENCH_SETTLE_SECONDS=0 runs them back to back (a neighbour that has just exited).
SETTLE_SECONDS = float(os.environ.get("BENCH_SETTLE_SECONDS", "0.5"))
# Seed of the engine order in `shuffled_rounds`.
ORDER_SEED = 6


def shuffled_rounds(engines, clips, runs: int) -> dict[tuple[str, str], Timings]:
    """Every engine on every clip, `runs` times, in a new order each round (shuffled with a
    fixed seed, so reruns repeat it): no engine always runs first (cache, turbo, a neighbour's
    build) or always right after the same one (an engine that oversubscribes the cores leaves
    the next one a slow start). One warm-up per engine and clip is discarded."""
    for engine in engines:
        for clip in clips:
            engine.transcribe(clip.path)
    results = {(e.name, c.name): Timings() for e in engines for c in clips}
    order = random.Random(ORDER_SEED)
    for _ in range(runs):
        for engine in order.sample(engines, len(engines)):
            for clip in clips:
                time.sleep(SETTLE_SECONDS)
                seconds, text = engine.transcribe(clip.path)
                results[(engine.name, clip.name)].seconds.append(seconds)
                results[(engine.name, clip.name)].texts.append(text)
    return results


@contextlib.contextmanager
def cpu_hog():
    """One CPU-bound process (`yes > /dev/null`) beside the measurement."""
    hog = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        yield
    finally:
        hog.terminate()
        hog.wait()


@dataclass
class Load:
    clients: int
    requests: int
    wall: float
    latencies: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.wall

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


def _each_in_thread(handles, work) -> None:
    """work(handle) for every handle at once, one thread each; re-raises the first failure."""
    with ThreadPoolExecutor(len(handles)) as pool:
        for future in [pool.submit(work, handle) for handle in handles]:
            future.result()


def concurrent_clients(engine, clip_path: Path, clients: int, per_client: int) -> Load:
    """`clients` threads, each with its own engine.client(), transcribing the clip `per_client`
    times back to back. Latency is timed here, around the call, the same for every engine; one
    round at the same concurrency warms every client (process, worker, slot) and is discarded."""
    latencies: list[float] = []
    lock = threading.Lock()

    def timed_requests(handle) -> None:
        for _ in range(per_client):
            started = time.perf_counter()
            handle.transcribe(clip_path)
            with lock:
                latencies.append(time.perf_counter() - started)

    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(contextlib.closing(engine.client()))
                   for _ in range(clients)]
        _each_in_thread(handles, lambda handle: handle.transcribe(clip_path))
        time.sleep(SETTLE_SECONDS)
        started = time.perf_counter()
        _each_in_thread(handles, timed_requests)
        wall = time.perf_counter() - started
    return Load(clients, clients * per_client, wall, latencies)


def wer_row(engine, manifest: Path, raw: dict) -> str:
    """The corpus through one engine, then closes it: its rows go into raw["wer"], and its
    line of the report's WER table comes back."""
    try:
        rate, errors, words, rows = manifest_wer(engine, manifest)
    finally:
        engine.close()
    raw.setdefault("wer", {})[engine.name] = rows
    return f"| {engine.name} | {rate * 100:.2f}% | {errors} / {words} |"


def manifest_wer(engine, manifest: Path) -> tuple[float, int, int, list[tuple[str, str, str]]]:
    """WER of one engine over the corpus, with (clip, reference, hypothesis) per utterance."""
    rows = []
    for line in manifest.read_text().splitlines():
        wav, reference = line.split("\t", 1)
        _, text = engine.transcribe(Path(wav))
        rows.append((Path(wav).name, reference, text))
    rate, errors, words = corpus_wer([(r, h) for _, r, h in rows])
    return rate, errors, words, rows
