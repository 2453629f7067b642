"""The server right after another CPU-heavy process: faster-whisper transcribes a clip in this
process, then the server gets the same clip, either at once ("back to back": the neighbour has
just finished) or after a pause. The goal (issue #20) is the same server time in both.

Conditions alternate in a shuffled order each round (fixed seed), so neither always runs
first, and each cell is the median of `runs`."""

import random
import statistics
import time

from measure import ratio

PAUSE_SECONDS = 0.5
CONDITIONS = ("after a pause", "back to back")
ORDER_SEED = 20


def measure(neighbour, servers, clips, runs: int) -> dict[tuple[str, str, str], list[float]]:
    """Seconds per (server, clip, condition); one warm-up of each engine is discarded."""
    for engine in [neighbour, *servers]:
        for clip in clips:
            engine.transcribe(clip.path)
    seconds: dict[tuple[str, str, str], list[float]] = {}
    order = random.Random(ORDER_SEED)
    for _ in range(runs):
        for server in order.sample(servers, len(servers)):
            for clip in clips:
                for condition in order.sample(CONDITIONS, len(CONDITIONS)):
                    time.sleep(PAUSE_SECONDS)
                    neighbour.transcribe(clip.path)
                    if condition == "after a pause":
                        time.sleep(PAUSE_SECONDS)
                    took, _ = server.transcribe(clip.path)
                    seconds.setdefault((server.name, clip.name, condition), []).append(took)
    return seconds


def table(seconds, servers, clips) -> list[str]:
    lines = ["| engine | clip | after a pause, median s | back to back, median s | "
             "back to back / pause |", "|---|---|---|---|---|"]
    for server in servers:
        for clip in clips:
            pause, now = (statistics.median(seconds[(server.name, clip.name, c)])
                          for c in CONDITIONS)
            lines.append(f"| {server.name} | {clip.name} | {pause:.3f} | {now:.3f} | "
                         f"{ratio(now, pause)} |")
    return lines


def intro(neighbour_name: str) -> list[str]:
    return [f"Each server request follows {neighbour_name} on the same clip in this process, "
            f"either at once or after {PAUSE_SECONDS} s; conditions in shuffled order.", ""]
