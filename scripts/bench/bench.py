"""Side-by-side benchmark of whisper-server, bare whisper-rs and faster-whisper in one run.

Prints a markdown report (and writes it to --out): machine, settings, then one table per
section. Every ratio is against a baseline measured in the same run. scripts/bench.sh builds
the binaries and fetches the model and corpus, then runs this; see docs/benchmarks.md.
"""

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import back_to_back
import concurrency
import mixed
from clips import make_clips
from engines import Bare, FasterWhisper, Server
from measure import cpu_hog, ratio, shuffled_rounds, wer_row
from wer import corpus_wer

SECTIONS = ("idle", "hog", "backtoback", "concurrency", "mixed", "levers", "wer")


@dataclass(frozen=True)
class Variant:
    """An extra server configuration for the idle and hog sections (and the wer section)."""
    clips: tuple[str, ...]  # the clips it matters for
    args: tuple[str, ...] = ()  # extra server arguments
    fields: tuple[tuple[str, str], ...] = ()  # extra request form fields
    env: tuple[tuple[str, str], ...] = ()  # extra environment of the server process


# "sequential windows" turns off decoding a clip over 30 s in windows on several whisper states
# at once; "full context" turns off the fitted audio context of short clips; "beam 5" asks for
# beam search; "f16" runs the model file's f16 matrices as they are (the server quantises them
# to q8_0 while loading by default); "q4_0" quantises them to 4-bit blocks instead; "windows from
# 30" decodes clips of 15-30 s in one window, as the server did before it cut them into windows;
# "huge pages" has glibc's malloc ask for transparent huge pages (run Z in docs/benchmarks.md).
ALL_CLIPS = ("short", "medium", "long", "three-sentences", "eight-sentences", "long-2")
SERVER_VARIANTS = {
    "sequential-windows": Variant(("long",), args=("--parallel-windows", "false")),
    "full-context": Variant(("short", "medium"), args=("--fit-audio-context", "false")),
    "beam-5": Variant(("short", "medium"), fields=(("beam_size", "5"),)),
    "f16": Variant(("short", "medium", "long"), args=("--weights", "f16")),
    "q4_0": Variant(ALL_CLIPS, args=("--weights", "q4_0")),
    "windows-from-30": Variant(("eight-sentences",), args=("--windows-from-seconds", "30")),
    "huge-pages": Variant(ALL_CLIPS, env=(("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1"),)),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bare-bin", type=Path, required=True)
    p.add_argument("--server-bin", type=Path, required=True)
    p.add_argument("--baseline-server-bin", type=Path,
                   help="another whisper-server build (an earlier commit), run beside the server "
                        "as \"server Nt baseline\" in the idle, hog and concurrency sections")
    p.add_argument("--ggml-default-bare-bin", type=Path,
                   help="bench_inference built as whisper.cpp ships (GGML_LLAMAFILE=OFF)")
    p.add_argument("--model", type=Path, required=True, help="ggml tiny.en")
    p.add_argument("--ct2-dir", type=Path, required=True, help="the same weights for CTranslate2")
    p.add_argument("--manifest", type=Path, required=True, help="real-speech corpus manifest")
    p.add_argument("--clips-dir", type=Path, required=True)
    p.add_argument("--long2", type=Path,
                   help="the second long recording (scripts/fetch-long-recording-2.sh), clip "
                        "\"long-2\"; default: $WHISPER_BENCH_LONG2, else that script's output in "
                        "the cache if it has been run, else no such clip")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--clips", default="short,medium,long", help="clips for idle and hog")
    p.add_argument("--lever-clips", default="short,medium")
    p.add_argument("--concurrency-clips", default="medium")
    p.add_argument("--concurrency-rounds", type=int, default=1,
                   help="measure each concurrency cell this many times, the contenders' order "
                        "reversed every other round; the table shows the median round")
    p.add_argument("--concurrency-contenders", default="",
                   help="only the concurrency contenders whose name matches this regular "
                        "expression, e.g. 'default slots( baseline)?$'")
    p.add_argument("--server-variants", default=",".join(SERVER_VARIANTS),
                   help="extra server configurations for idle and hog (comma list; empty: none)")
    p.add_argument("--margins", default="64,128,256", help="audio context margins (frames)")
    p.add_argument("--wer-configs", help="comma-separated configuration names to run in the "
                   "wer section (default: every one)")
    p.add_argument("--requests-per-client", type=int, default=3,
                   help="fewest requests each client sends per cell; short clips send more "
                   "(concurrency.requests_per_client)")
    p.add_argument("--out", type=Path, help="also write the report here")
    p.add_argument("--json", type=Path, help="raw timings and transcripts")
    return p.parse_args()


def machine() -> str:
    model = next((line.split(":", 1)[1].strip()
                  for line in subprocess.run(["lscpu"], capture_output=True, text=True)
                  .stdout.splitlines() if line.startswith("Model name")), platform.processor())
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} CPUs; load average at start {load}"


def timing_table(results, engines, clip, baselines) -> list[str]:
    """One row per engine: median, spread, ratio to each baseline, WER against the clip's text.
    `baselines` maps a column label to f(engine name, clip name) -> seconds or None."""
    head = "| engine | median s | min-max s | " + " | ".join(f"x {b}" for b in baselines) + \
        " | WER vs script |"
    lines = [head, "|" + "---|" * (4 + len(baselines))]
    for engine in engines:
        t = results[(engine.name, clip.name)]
        ratios = " | ".join(ratio(t.median, base(engine.name, clip.name))
                            for base in baselines.values())
        rate, _, _ = corpus_wer([(clip.reference, text) for text in t.texts])
        lines.append(f"| {engine.name} | {t.median:.3f} | {min(t.seconds):.3f}-"
                     f"{max(t.seconds):.3f} | {ratios} | {rate * 100:.1f}% |")
    return lines


def medians(results) -> dict[tuple[str, str], float]:
    return {key: t.median for key, t in results.items()}


def same_run(results, baseline: str):
    """Baseline column: the named engine's median on the same clip in this run."""
    return lambda _engine, clip: medians(results).get((baseline, clip))


def timed_section(report, raw: dict, title: str, engines, clip_set, runs: int,
                  baselines: dict[str, str], extra=None, hog: bool = False):
    """Measures (beside a CPU hog if asked) and keeps the raw timings under `title`, then
    reports one table per clip with ratios against the named engines of this same run (and any
    `extra` baseline columns)."""
    with cpu_hog() if hog else contextlib.nullcontext():
        results = shuffled_rounds(engines, clip_set, runs)
    raw[title] = {f"{e}|{c}": vars(v) for (e, c), v in results.items()}
    columns = {label: same_run(results, name) for label, name in baselines.items()}
    columns |= extra or {}
    report.add(f"## {title}", "")
    for clip in clip_set:
        report.add(f"### {clip.name} clip ({clip.seconds:.1f} s)", "",
                   *timing_table(results, engines, clip, columns), "")
    return results


def make_variant(a: argparse.Namespace, t: int, name: str) -> Server:
    variant = SERVER_VARIANTS[name]
    return Server(f"server {t}t {name.replace('-', ' ')}", a.server_bin,
                  a.model, t,
                  extra_args=variant.args, fields=dict(variant.fields), env=dict(variant.env))


def chosen_variants(a: argparse.Namespace) -> list[str]:
    """The --server-variants, in their order."""
    return [v for v in a.server_variants.split(",") if v]


def server_variants(a: argparse.Namespace, t: int, clips) -> list[Server]:
    """The chosen variants whose clip is among `clips`, e.g. "server 2t sequential windows"."""
    names = {c.name for c in clips}
    return [make_variant(a, t, v) for v in chosen_variants(a)
            if names & set(SERVER_VARIANTS[v].clips)]


def close_all(engines) -> None:
    for engine in engines:
        engine.close()


class Report:
    def __init__(self, out: Path | None):
        self.out = out
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)
        if self.out:
            self.out.write_text("\n".join(self.lines) + "\n")


def main() -> None:
    # SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop the server and helper processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    a = parse_args()
    sections = set(a.sections.split(","))
    if unknown := sections - set(SECTIONS):
        sys.exit(f"unknown sections {unknown}; known: {SECTIONS}")
    if unknown := set(a.server_variants.split(",")) - set(SERVER_VARIANTS) - {""}:
        sys.exit(f"unknown server variants {unknown}; known: {tuple(SERVER_VARIANTS)}")
    all_clips = make_clips(a.clips_dir, a.manifest, a.long2)
    pick = lambda names: [c for c in all_clips if c.name in names.split(",")]  # noqa: E731
    clips, lever_clips = pick(a.clips), pick(a.lever_clips)
    concurrency_clips = pick(a.concurrency_clips)
    margins = [int(m) for m in a.margins.split(",") if m]
    t = a.threads
    report = Report(a.out)
    raw: dict[str, dict] = {}
    report.add("# whisper-server benchmark", "",
               f"- machine: {machine()}",
               f"- threads: {t}; runs per cell: {a.runs} (median; engine order shuffled each round; "
               "one warm-up discarded)",
               "- clips: " + ", ".join(f"{c.name} {c.seconds:.1f} s" for c in all_clips),
               f"- model: {a.model.name} (ggml f16) and {a.ct2_dir} (CTranslate2) - same weights",
               "")

    def fw(name, compute_type, threads):
        return FasterWhisper(name, a.ct2_dir, compute_type, threads)

    def timed(title, engines, clip_set, baselines: dict[str, str], extra=None, hog=False):
        return timed_section(report, raw, title, engines, clip_set, a.runs, baselines, extra,
                             hog)

    idle: dict[tuple[str, str], float] = {}
    if sections & {"idle", "hog"}:
        # The server as shipped: --slots 0 (Server's default), adaptive threads.
        bare, fw_int8 = f"bare whisper-rs {t}t", f"faster-whisper int8 {t}t"
        engines = [Bare(bare, a.bare_bin, a.model, t),
                   Server(f"server {t}t", a.server_bin, a.model, t),
                   fw(fw_int8, "int8", t),
                   fw(f"faster-whisper float32 {t}t", "float32", t)]
        if a.ggml_default_bare_bin:
            engines.append(Bare(f"bare whisper.cpp default build {t}t",
                                a.ggml_default_bare_bin, a.model, t))
        baselines = {"bare": bare, "fw int8": fw_int8}
        if a.baseline_server_bin:
            engines.append(Server(f"server {t}t baseline", a.baseline_server_bin, a.model, t))
            baselines["baseline"] = f"server {t}t baseline"
        try:
            engines += server_variants(a, t, clips)
            if "idle" in sections:
                idle = medians(timed("Idle machine", engines, clips, baselines))
            if "hog" in sections:
                engines += [Bare("bare whisper-rs 1t", a.bare_bin, a.model, 1),
                            Server(f"server {t}t fixed threads", a.server_bin, a.model, t,
                                   extra_args=("--adapt-threads-to-load", "false")),
                            fw("faster-whisper int8 1t", "int8", 1)]
                timed("Beside one CPU hog (yes > /dev/null)", engines, clips, baselines,
                      {"own idle": lambda engine, clip: idle.get((engine, clip))}, hog=True)
        finally:
            close_all(engines)

    if "backtoback" in sections:
        neighbour = fw(f"faster-whisper int8 {t}t", "int8", t)
        servers = [Server(f"server {t}t", a.server_bin, a.model, t)]
        if a.baseline_server_bin:
            servers.append(Server(f"server {t}t baseline", a.baseline_server_bin, a.model, t))
        try:
            seconds = back_to_back.measure(neighbour, servers, clips, a.runs)
        finally:
            close_all([neighbour, *servers])
        report.add("## Right after another process", "", *back_to_back.intro(neighbour.name),
                   *back_to_back.table(seconds, servers, clips), "")
        raw["back to back"] = {"|".join(k): v for k, v in seconds.items()}

    if "concurrency" in sections:
        report.add("## Concurrent clients", "", *concurrency.intro(t))
        contenders = concurrency.chosen(concurrency.contenders(a, t), a.concurrency_contenders)
        for clip in concurrency_clips:
            per_client = concurrency.requests_per_client(clip, a.requests_per_client)
            concurrency.run_clip(contenders, clip, per_client, a.concurrency_rounds, report.add,
                                 raw.setdefault("concurrency", {}))

    if "mixed" in sections:
        report.add("## A short clip beside a stream of long requests", "")
        by_name = {c.name: c for c in all_clips}
        mixed.run(mixed.contenders(concurrency.contenders(a, t)), by_name["short"],
                  by_name["long"], report.add, raw.setdefault("mixed", {}))

    # (name, binary, threads, audio context margin, no timestamps). A cut audio context needs
    # no-timestamps decoding: with timestamps whisper.cpp seeks back into the clip and repeats it.
    bare_variants = [(f"bare {t}t", a.bare_bin, t, None, False),
                     (f"bare {t}t notimestamps", a.bare_bin, t, None, True)]
    bare_variants += [(f"bare {t}t ctx+{m}", a.bare_bin, t, m, False) for m in margins[:1]]
    bare_variants += [(f"bare {t}t ctx+{m} notimestamps", a.bare_bin, t, m, True)
                      for m in margins]
    if a.ggml_default_bare_bin:
        bare_variants += [(f"ggml-default {t}t", a.ggml_default_bare_bin, t, None, False),
                          (f"ggml-default {t}t ctx+{margins[0]} notimestamps",
                           a.ggml_default_bare_bin, t, margins[0], True)]

    if "levers" in sections:
        engines = [Bare(n, b, a.model, th, m, nt) for n, b, th, m, nt in bare_variants]
        engines.append(fw(f"faster-whisper int8 {t}t", "int8", t))
        try:
            timed("Levers, idle (bare whisper-rs)", engines, lever_clips,
                  {"bare": engines[0].name, "fw int8": engines[-1].name})
        finally:
            close_all(engines)
        m = margins[0]
        hog_variants = [(f"bare {th}t", a.bare_bin, th, None, False) for th in (t, 1)]
        hog_variants += [(f"bare {th}t ctx+{m} notimestamps", a.bare_bin, th, m, True)
                         for th in (t, 1)]
        if a.ggml_default_bare_bin:
            hog_variants += [(f"ggml-default {th}t", a.ggml_default_bare_bin, th, None, False)
                             for th in (t, 1)]
        engines = [Bare(n, b, a.model, th, mg, nt) for n, b, th, mg, nt in hog_variants]
        engines.append(fw(f"faster-whisper int8 {t}t", "int8", t))
        try:
            timed("Levers beside one CPU hog: threads", engines, lever_clips,
                  {f"bare {t}t": engines[0].name, "fw int8": engines[-1].name}, hog=True)
        finally:
            close_all(engines)

    if "wer" in sections:
        report.add(f"## WER on the real-speech corpus ({a.manifest})", "",
                   "| configuration | WER | errors / words |", "|---|---|---|")
        configs = [(n, lambda n=n, b=b, th=th, m=m, nt=nt: Bare(n, b, a.model, th, m, nt))
                   for n, b, th, m, nt in bare_variants]
        configs += [(f"server {t}t", lambda: Server(f"server {t}t", a.server_bin, a.model, t))]
        configs += [(f"server {t}t {v.replace('-', ' ')}", lambda v=v: make_variant(a, t, v))
                    for v in SERVER_VARIANTS]
        configs += [(f"faster-whisper {ct} {t}t",
                     lambda ct=ct: fw(f"faster-whisper {ct} {t}t", ct, t))
                    for ct in ("int8", "float32")]
        wanted = set(a.wer_configs.split(",")) if a.wer_configs else {n for n, _ in configs}
        for name, make in configs:
            if name not in wanted:
                continue
            report.add(wer_row(make(), a.manifest, raw))
        report.add("")
    if a.json:
        a.json.write_text(json.dumps(raw, indent=1, default=str))


if __name__ == "__main__":
    main()
