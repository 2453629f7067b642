"""The concurrency section: every engine as its users would run it for 1, 2 and 4 clients at once,
each client a thread sending requests back to back (measure.concurrent_clients)."""

import math
import re
from dataclasses import dataclass
from typing import Callable

from engines import BareProcesses, FasterWhisper, Server
from measure import Load, concurrent_clients, ratio

CLIENTS = (1, 2, 4)
# Audio each client sends per cell, at least: a few requests of a 4.5 s clip last under a
# second and swung the throughput ratios by 20% from run to run.
AUDIO_SECONDS_PER_CLIENT = 60.0
HEAD = ("| engine | clients | run as | requests/s | audio s per s | p50 latency s | "
        "x own 1 client | x best 1 client |", "|---|---|---|---|---|---|---|---|")


def intro(t: int) -> list[str]:
    """How each engine serves several clients, for the report."""
    return [f"- server: one process, one HTTP session per client; \"1 slot\" queues requests, "
            f"\"default slots\" (`--slots 0`) runs them at once, sharing the {t} threads",
            f"- bare whisper-rs: one bench_inference process per client with max(1, {t} // "
            f"clients) threads, so together they do not oversubscribe {t} threads",
            f"- faster-whisper: one WhisperModel, `num_workers=clients` (CTranslate2 runs that "
            f"many transcriptions at once, each with its own `cpu_threads`), `cpu_threads=max(1, "
            f"{t} // clients)`: the same budget of {t} threads as the others",
            "- latency: timed around each call in the client thread, the same for every engine; "
            "one round at the same concurrency is discarded first",
            "- x own 1 client: throughput against the same engine with one client; x best 1 "
            "client: against the fastest engine with one client", ""]


@dataclass(frozen=True)
class Contender:
    name: str                      # the row's engine, the same for every client count
    make: Callable[[int], object]  # clients -> an engine with client() and close()
    run_as: Callable[[int], str]   # clients -> how it serves them, for the table


def chosen(contenders_: list[Contender], pattern: str) -> list[Contender]:
    """The contenders whose name matches `pattern` (a regular expression; empty: all)."""
    picked = [c for c in contenders_ if re.search(pattern, c.name)]
    if not picked:
        raise SystemExit(f"no concurrency contender matches {pattern!r}; names: "
                         + ", ".join(c.name for c in contenders_))
    return picked


def contenders(a, t: int) -> list[Contender]:
    def server(slots: int, *extra_args: str, binary=a.server_bin):
        return lambda _: Server(f"server {t}t slots {slots}", binary, a.model, t, slots,
                                extra_args=extra_args)

    def split_threads(clients: int) -> int:
        """Each of `clients` parallel workers' share of the t threads."""
        return max(1, t // clients)

    def bare(clients: int) -> BareProcesses:
        return BareProcesses(f"bare whisper-rs {split_threads(clients)}t", a.bare_bin, a.model,
                             split_threads(clients))

    def fw(compute_type: str):
        return lambda clients: FasterWhisper(f"faster-whisper {compute_type} {t}t", a.ct2_dir,
                                             compute_type, split_threads(clients),
                                             num_workers=clients)

    baseline = []
    if a.baseline_server_bin:
        baseline = [Contender(f"server {t}t default slots baseline",
                              server(0, binary=a.baseline_server_bin),
                              lambda _: "--slots 0, the baseline build")]
    return baseline + [
        Contender(f"server {t}t default slots f16", server(0, "--weights", "f16"),
                  lambda _: "--slots 0, --weights f16"),
        Contender(f"server {t}t 1 slot", server(1), lambda _: "--slots 1"),
        Contender(f"server {t}t default slots", server(0),
                  lambda _: f"--slots 0 (one per thread, sharing {t} threads)"),
        Contender(f"bare whisper-rs {t}t", bare,
                  lambda c: f"{c} process{'es' if c > 1 else ''} x {split_threads(c)}t"),
        Contender(f"faster-whisper int8 {t}t", fw("int8"),
                  lambda c: f"num_workers {c} x cpu_threads {split_threads(c)}"),
        Contender(f"faster-whisper float32 {t}t", fw("float32"),
                  lambda c: f"num_workers {c} x cpu_threads {split_threads(c)}"),
    ]


def requests_per_client(clip, fewest: int) -> int:
    """Requests each client sends per cell: `fewest`, or more for short clips."""
    return max(fewest, math.ceil(AUDIO_SECONDS_PER_CLIENT / clip.seconds))


def measure(contender: Contender, clip, clients: int, per_client: int) -> Load:
    """A fresh engine for this client count (worker and process counts depend on it)."""
    engine = contender.make(clients)
    try:
        return concurrent_clients(engine, clip.path, clients, per_client)
    finally:
        engine.close()


def median_round(rounds: list[Load]) -> Load:
    """The round with the median throughput (the lower middle one of an even count)."""
    ranked = sorted(rounds, key=lambda load: load.throughput)
    return ranked[(len(ranked) - 1) // 2]


def throughput_cell(rounds: list[Load]) -> str:
    """Requests/s of the median round, and the range over rounds when there were several."""
    cell = f"{median_round(rounds).throughput:.2f}"
    if len(rounds) > 1:
        low, high = min(r.throughput for r in rounds), max(r.throughput for r in rounds)
        cell += f" ({low:.2f}-{high:.2f})"
    return cell


def row(contender: Contender, clip, rounds: list[Load], own: float, best: float) -> str:
    load = median_round(rounds)
    return (f"| {contender.name} | {load.clients} | {contender.run_as(load.clients)} | "
            f"{throughput_cell(rounds)} | {load.throughput * clip.seconds:.1f} | "
            f"{load.p50:.3f} | {ratio(load.throughput, own)} | {ratio(load.throughput, best)} |")


def measure_rounds(contenders_: list[Contender], clip, clients: int, per_client: int,
                   rounds: int) -> dict[str, list[Load]]:
    """Each contender `rounds` times, the order reversed every other round, so that neither a
    contender's place in the order nor a slow spell of the machine falls on one side."""
    loads: dict[str, list[Load]] = {c.name: [] for c in contenders_}
    for r in range(rounds):
        for c in contenders_ if r % 2 == 0 else reversed(contenders_):
            loads[c.name].append(measure(c, clip, clients, per_client))
    return loads


def run_clip(contenders_: list[Contender], clip, per_client: int, rounds: int, add,
             raw: dict) -> None:
    """One table: every contender at each client count, each cell the median of `rounds`.
    Rows come out one client count at a time, once every contender has run it: the 1-client
    rows first, so the best 1-client throughput is known for every row."""
    add(f"### {clip.name} clip ({clip.seconds:.1f} s, {per_client} requests per client, "
        f"{rounds} round{'s' if rounds > 1 else ''} per cell)", "", *HEAD)
    single: dict[str, float] = {}
    for clients in CLIENTS:
        measured = measure_rounds(contenders_, clip, clients, per_client, rounds)
        for name, loads_ in measured.items():
            raw[f"{clip.name}|{name}|{clients}"] = [vars(load) for load in loads_]
        loads = {name: median_round(loads_) for name, loads_ in measured.items()}
        if clients == CLIENTS[0]:
            single = {name: load.throughput for name, load in loads.items()}
        best = max(single.values())
        add(*(row(c, clip, measured[c.name], single[c.name], best) for c in contenders_))
    add("")
