"""A paired check: two servers side by side, one request to each per pair, the order flipped
every pair, and the median of the per-pair time ratios (candidate over reference) with how often
the candidate was faster.

A shared machine drifts by more than a lever's few percent between the harness's runs and within
one; a ratio taken within each pair cancels the drift (docs/benchmarks.md, run Z). The candidate
is the reference binary with one of bench.py's server variants, or another build.

usage: paired.py --server-bin PATH --model PATH (--variant NAME | --candidate-bin PATH)
                 [--pairs 30] [--threads 2] [--hog] CLIP.wav ...
"""

import argparse
import contextlib
import statistics
import time
from pathlib import Path

from bench import SERVER_VARIANTS
from engines import Server
from measure import cpu_hog

# Between two requests, so that one's last threads are gone when the next starts.
PAUSE_SECONDS = 0.3


def summarise(ratios: list[float]) -> str:
    """Median ratio, its interquartile range, and the pairs the candidate won."""
    low, _, high = statistics.quantiles(ratios, n=4)
    wins = sum(r < 1 for r in ratios)
    return (f"{statistics.median(ratios):.3f} (IQR {low:.3f}-{high:.3f}), "
            f"faster in {wins}/{len(ratios)}")


def paired_ratios(reference: Server, candidate: Server, audio: bytes, pairs: int) -> list[float]:
    reference.request(reference.session, audio)
    candidate.request(candidate.session, audio)
    ratios = []
    for i in range(pairs):
        order = (reference, candidate) if i % 2 == 0 else (candidate, reference)
        seconds = {}
        for server in order:
            time.sleep(PAUSE_SECONDS)
            seconds[server.name], _ = server.request(server.session, audio)
        ratios.append(seconds[candidate.name] / seconds[reference.name])
    return ratios


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server-bin", type=Path, required=True)
    p.add_argument("--model", type=Path, required=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--variant", choices=sorted(SERVER_VARIANTS))
    which.add_argument("--candidate-bin", type=Path)
    p.add_argument("--pairs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--hog", action="store_true", help="beside one CPU-bound process")
    p.add_argument("clips", type=Path, nargs="+")
    a = p.parse_args()
    if a.pairs < 4:
        p.error("--pairs must be at least 4 for quartiles")

    reference = Server("reference", a.server_bin, a.model, a.threads)
    if a.variant:
        v = SERVER_VARIANTS[a.variant]
        candidate = Server(a.variant, a.server_bin, a.model, a.threads, extra_args=v.args,
                           fields=dict(v.fields), env=dict(v.env))
    else:
        candidate = Server("candidate", a.candidate_bin, a.model, a.threads)
    try:
        print(f"{candidate.name} over reference, {a.pairs} pairs"
              f"{', beside a CPU hog' if a.hog else ''}:")
        for clip in a.clips:
            with cpu_hog() if a.hog else contextlib.nullcontext():
                ratios = paired_ratios(reference, candidate, clip.read_bytes(), a.pairs)
            print(f"- {clip.name}: {summarise(ratios)}", flush=True)
    finally:
        reference.close()
        candidate.close()


if __name__ == "__main__":
    main()
