"""Measurements: rotated medians, a CPU hog beside them, concurrent clients, corpus WER."""

import contextlib
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from wer import corpus_wer


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


# Between two engines' runs: the previous engine's threads (CTranslate2's OpenMP workers spin
# for a while after their work) must not be the next one's neighbour, and the server's CPU load
# sampler must not count them as another process's load.
SETTLE_SECONDS = 0.5


def rotated(engines, clips, runs: int) -> dict[tuple[str, str], Timings]:
    """Every engine on every clip, `runs` times; the engine order rotates each round so no
    engine always runs first (cache, turbo, a neighbour's build) and one warm-up is discarded."""
    for engine in engines:
        for clip in clips:
            engine.transcribe(clip.path)
    results = {(e.name, c.name): Timings() for e in engines for c in clips}
    for round_ in range(runs):
        k = round_ % len(engines)
        for engine in engines[k:] + engines[:k]:
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


def concurrent_clients(server, clip_path: Path, clients: int, per_client: int) -> Load:
    """`clients` threads, each sending `per_client` requests back to back on its own session."""
    audio = clip_path.read_bytes()
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as session:
            for _ in range(per_client):
                seconds, _ = server.request(session, audio)
                with lock:
                    latencies.append(seconds)

    server.transcribe(clip_path)
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return Load(clients, clients * per_client, time.perf_counter() - started, latencies)


def manifest_wer(engine, manifest: Path) -> tuple[float, int, int, list[tuple[str, str, str]]]:
    """WER of one engine over the corpus, with (clip, reference, hypothesis) per utterance."""
    rows = []
    for line in manifest.read_text().splitlines():
        wav, reference = line.split("\t", 1)
        _, text = engine.transcribe(Path(wav))
        rows.append((Path(wav).name, reference, text))
    rate, errors, words = corpus_wer([(r, h) for _, r, h in rows])
    return rate, errors, words, rows
