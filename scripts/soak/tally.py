"""What a soak run saw, and whether it passed: pure functions over request outcomes and memory
samples, so that the verdict can be tested without a server (test_tally.py)."""

import statistics
from collections import Counter
from dataclasses import dataclass, field

# What became of one request. Only the first three are failures.
LOST = "lost"            # no answer where one was due: a connection error, a timeout, garbage
SERVER_ERROR = "5xx"
WRONG = "wrong"          # an answer, but not the one due (status or transcript)
OK = "ok"                # a transcript that matches the clip
REFUSED = "refused"      # the 4xx the input deserved (400, 408, 413, ...)
THROTTLED = "throttled"  # 429: the queue was full, a deliberate answer
HUNG_UP = "hung up"      # the client went away on purpose (mid-upload, mid-inference)
FAILURES = (LOST, SERVER_ERROR, WRONG)


@dataclass(frozen=True)
class Outcome:
    kind: str            # e.g. "good:short", "bad:not-multipart", "stalled-head"
    started: float       # seconds since the run started
    latency: float
    result: str          # one of the constants above
    status: int | None   # HTTP status, where one came back
    detail: str = ""


@dataclass(frozen=True)
class MemorySample:
    at: float            # seconds since the run started
    rss_mib: float


@dataclass
class Interval:
    start: float
    end: float
    outcomes: list[Outcome] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def good_latencies(outcomes: list[Outcome], clip: str) -> list[float]:
    return [o.latency for o in outcomes if o.kind == f"good:{clip}" and o.result == OK]


def split(outcomes: list[Outcome], memory: list[MemorySample], every: float,
          duration: float) -> list[Interval]:
    """The run cut into intervals of `every` seconds, by when each request started."""
    count = max(1, round(duration / every))
    intervals = [Interval(i * every, (i + 1) * every) for i in range(count)]
    for o in outcomes:
        intervals[min(count - 1, int(o.started // every))].outcomes.append(o)
    for m in memory:
        intervals[min(count - 1, int(m.at // every))].rss_mib.append(m.rss_mib)
    return intervals


def row(interval: Interval, clips: list[str]) -> str:
    """One markdown table row: requests, good requests a second, results, latency, memory."""
    outs = interval.outcomes
    seconds = interval.end - interval.start
    good = sum(1 for o in outs if o.result == OK)
    results = ", ".join(f"{r} {n}" for r, n in sorted(Counter(o.result for o in outs).items()))
    statuses = ", ".join(f"{s} {n}" for s, n in sorted(
        Counter(str(o.status) for o in outs if o.status is not None).items()))
    cells = []
    for clip in clips:
        lat = good_latencies(outs, clip)
        p50, p99 = _percentile(lat, 0.5), _percentile(lat, 0.99)
        cells.append("-" if p50 is None else f"{p50:.2f} / {p99:.2f}")
    rss = f"{max(interval.rss_mib):.0f}" if interval.rss_mib else "-"
    return (f"| {interval.start:.0f}-{interval.end:.0f} s | {len(outs)} | {good / seconds:.2f} | "
            f"{results} | {statuses} | {' | '.join(cells)} | {rss} |")


def header(clips: list[str]) -> str:
    lat = " | ".join(f"{c} p50 / p99 (s)" for c in clips)
    sep = "|".join("---" for _ in range(6 + len(clips)))
    return (f"| interval | requests | good/s | results | statuses | {lat} | RSS max (MiB) |\n"
            f"|{sep}|")


@dataclass(frozen=True)
class Verdict:
    failures: list[str]          # each a reason the run failed
    warm_rss_mib: float          # the peak over the warm-up
    steady_rss_mib: float        # the peak after it
    latency_drift: dict[str, float]  # clip -> median of the last interval / of the first

    @property
    def passed(self) -> bool:
        return not self.failures


def verdict(outcomes: list[Outcome], memory: list[MemorySample], warm_up: float,
            rss_growth_mib: float, intervals: list[Interval], clips: list[str]) -> Verdict:
    """Fails on any lost request, 5xx or wrong answer, on a run without a single good answer,
    and on resident memory after `warm_up` seconds more than `rss_growth_mib` over the warm-up's
    peak. Latency drift is reported, not judged: a shared machine's noise is larger than what
    one short run could tell apart."""
    failures = []
    for result in FAILURES:
        bad = [o for o in outcomes if o.result == result]
        if bad:
            first = "; ".join(f"{o.kind} at {o.started:.1f} s: {o.detail}" for o in bad[:3])
            failures.append(f"{len(bad)} {result}: {first}")
    if not any(o.result == OK for o in outcomes):
        failures.append("no request was transcribed")
    warm = [m.rss_mib for m in memory if m.at < warm_up]
    steady = [m.rss_mib for m in memory if m.at >= warm_up]
    warm_peak = max(warm, default=0.0)
    steady_peak = max(steady, default=0.0)
    if not warm or not steady:
        failures.append("too few memory samples to judge growth")
    elif steady_peak > warm_peak + rss_growth_mib:
        failures.append(f"resident memory grew to {steady_peak:.0f} MiB after the warm-up, "
                        f"over its bound of {warm_peak:.0f} + {rss_growth_mib:.0f} MiB")
    drift = {}
    for clip in clips:
        first = good_latencies(intervals[0].outcomes, clip)
        last = good_latencies(intervals[-1].outcomes, clip)
        if first and last:
            drift[clip] = statistics.median(last) / statistics.median(first)
    return Verdict(failures, warm_peak, steady_peak, drift)
