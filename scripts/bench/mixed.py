"""The mixed section: a short clip's latency while another client streams a long recording back
to back, against the same engine's short-clip latency with nothing else running.

A server that gives a long request every free core makes a short request behind it wait for
the whole recording; one that shares must not slow the long stream much either, so its
throughput is reported against the long clip alone too."""

import contextlib
import random
import statistics
import threading
import time
from dataclasses import dataclass

from concurrency import Contender
from measure import SETTLE_SECONDS, ratio

# Short requests per cell, alone and beside the long stream.
SHORT_REQUESTS = 12
# Pauses between short requests beside the stream: up to a window's decode time, seeded, so
# the requests arrive at different points of the long recording's windows.
MAX_GAP_SECONDS = 1.0
GAP_SEED = 7
HEAD = ("| engine | run as | short p50 alone s | short p50 beside s | short p90 beside s | "
        "x alone | long p50 alone s | long p50 beside s | x alone |",
        "|---|---|---|---|---|---|---|---|---|")


@dataclass
class Mixed:
    short_alone: list[float]
    short_beside: list[float]
    long_alone: list[float]
    long_beside: list[float]


def _timed(handle, path) -> float:
    started = time.perf_counter()
    handle.transcribe(path)
    return time.perf_counter() - started


def measure(contender: Contender, short, long) -> Mixed:
    """Two clients of one engine made for two clients: the short clip alone, the long clip
    alone, then the long clip back to back on one client while the other sends the short one."""
    engine = contender.make(2)
    gaps = random.Random(GAP_SEED)
    try:
        with contextlib.closing(engine.client()) as quick, \
                contextlib.closing(engine.client()) as slow:
            quick.transcribe(short.path)
            slow.transcribe(long.path)
            short_alone = [_timed(quick, short.path) for _ in range(SHORT_REQUESTS)]
            long_alone = [_timed(slow, long.path) for _ in range(3)]
            time.sleep(SETTLE_SECONDS)
            stop, long_beside, failure = threading.Event(), [], []

            def stream() -> None:
                try:
                    while not stop.is_set():
                        long_beside.append(_timed(slow, long.path))
                except Exception as e:  # noqa: BLE001 - re-raised in the measuring thread
                    failure.append(e)

            streamer = threading.Thread(target=stream)
            streamer.start()
            short_beside = []
            try:
                for _ in range(SHORT_REQUESTS):
                    time.sleep(gaps.uniform(0, MAX_GAP_SECONDS))
                    short_beside.append(_timed(quick, short.path))
            finally:
                stop.set()
                streamer.join()
            if failure:
                raise failure[0]
            return Mixed(short_alone, short_beside, long_alone, long_beside)
    finally:
        engine.close()


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def row(contender: Contender, m: Mixed) -> str:
    short_alone, short_beside = statistics.median(m.short_alone), statistics.median(m.short_beside)
    long_alone, long_beside = statistics.median(m.long_alone), statistics.median(m.long_beside)
    return (f"| {contender.name} | {contender.run_as(2)} | {short_alone:.3f} | "
            f"{short_beside:.3f} | {p90(m.short_beside):.3f} | "
            f"{ratio(short_beside, short_alone)} | {long_alone:.3f} | {long_beside:.3f} | "
            f"{ratio(long_beside, long_alone)} |")


def contenders(all_: list[Contender]) -> list[Contender]:
    """The concurrency section's contenders that serve two clients from one model: not the
    bare processes (one per client, nothing shared)."""
    return [c for c in all_ if not c.name.startswith("bare ")]


def run(contenders: list[Contender], short, long, add, raw: dict) -> None:
    add(f"### {short.name} clip ({short.seconds:.1f} s) beside a stream of the {long.name} clip "
        f"({long.seconds:.1f} s)", "",
        f"- {SHORT_REQUESTS} short requests alone, then {SHORT_REQUESTS} beside the stream, "
        f"each after a pause of 0-{MAX_GAP_SECONDS:.0f} s (seeded); the long clip 3 times "
        "alone; every engine made for 2 clients", "", *HEAD)
    for contender in contenders:
        m = measure(contender, short, long)
        raw[contender.name] = vars(m)
        add(row(contender, m))
    add("")
