"""The CUDA build of whisper-server against faster-whisper on CUDA, in one run on one GPU machine.

The same clips, corpus and weights as the CPU benchmark (bench.py): the ggml model is made from
the CTranslate2 folder with `whisper-server import-ct2`, so both engines run the same f16 weights.
Sections: idle (median latency per clip), hog (the same beside `yes > /dev/null`), concurrency
(1/2/4 clients), wer (the real-speech corpus). Every ratio is against faster-whisper float16 on
CUDA, or the same binary with the GPU hidden, measured in the same run.

Run where the GPU is, after building the server with `--features cuda`:

    python3 scripts/bench/gpu.py --server-bin target/release/whisper-server \
        --model ggml-tiny.en.bin --ct2-dir CT2_DIR --manifest MANIFEST --clips-dir CLIPS

The clips dir must already hold short.wav, medium.wav and long.wav (bench.py makes them with
flite and sox, which a GPU machine may lack). docs/benchmarks.md holds the results.
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import types
import wave
from pathlib import Path

import numpy as np

import concurrency
from bench import Report, machine, medians, timed_section
from clips import make_clips
from concurrency import Contender
from engines import Bare, FasterWhisper, Server, Shared
from measure import wer_row

SECTIONS = ("idle", "hog", "concurrency", "wer")
# The engines of the idle and hog sections (--engines picks some).
ENGINES = ("server", "server-flash-attention", "server-full-context", "server-q8_0",
           "server-cpu", "bare", "fw-float16", "fw-int8_float16", "fw-float32")
BASELINE = "faster-whisper float16 cuda"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server-bin", type=Path, required=True, help="built with --features cuda")
    p.add_argument("--bare-bin", type=Path, help="bench_inference built with --features cuda")
    p.add_argument("--model", type=Path, required=True, help="ggml f16, from --ct2-dir")
    p.add_argument("--ct2-dir", type=Path, required=True)
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--clips-dir", type=Path, required=True)
    p.add_argument("--threads", type=int, default=4, help="CPU threads of each engine")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--clips", default="short,medium,long", help="clips for idle and hog")
    p.add_argument("--engines", default=",".join(ENGINES), help="engines for idle")
    p.add_argument("--hog-engines", help="engines for hog (default: --engines)")
    p.add_argument("--wer-engines", default="server,fw-float16")
    p.add_argument("--fw-device", default="cuda", help="cpu: a dry run of this script")
    p.add_argument("--concurrency-clips", default="short,medium,long")
    p.add_argument("--requests-per-client", type=int, default=3)
    p.add_argument("--out", type=Path)
    p.add_argument("--json", type=Path)
    return p.parse_args()


class FasterWhisperPcm(FasterWhisper):
    """faster-whisper given the clip as samples it reads inside the timed call (the standard
    library's WAV reader), for machines without PyAV: its FFmpeg wheel is 36 MB, and a GPU
    machine here takes in 64 MB a call. Reading a 16 kHz PCM WAV this way costs about what PyAV
    does; the server's time includes its own decoding the same way."""

    def audio(self, path: Path):
        with wave.open(str(path)) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return pcm.astype(np.float32) / 32768.0


def faster_whisper_engine() -> type[FasterWhisper]:
    """FasterWhisper where PyAV is installed, else FasterWhisperPcm. faster_whisper.audio
    imports av at module level but never calls it when handed samples, so without PyAV an empty
    module lets the import pass; any call into it would fail loudly."""
    if importlib.util.find_spec("av") is not None:
        return FasterWhisper
    sys.modules["av"] = types.ModuleType("av")
    return FasterWhisperPcm


def gpu_name() -> str:
    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                 "--format=csv,noheader"], capture_output=True, text=True)
    except FileNotFoundError:
        return "none found (no nvidia-smi)"
    return result.stdout.strip() or "unknown GPU"


class Kept:
    """An engine shared by every client count of the concurrency section: the server's slots
    and faster-whisper's workers do not depend on it here, and restarting costs CUDA set-up."""

    def __init__(self, make):
        self.make, self.engine = make, None

    def __call__(self, _clients: int):
        if self.engine is None:
            self.engine = self.make()
        return Unclosed(self.engine)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


class Unclosed(Shared):
    """Hands out clients of the kept engine; closing it leaves the engine running."""

    def client(self):
        return self.engine.client()


def main() -> None:
    a = parse_args()
    sections = set(a.sections.split(","))
    t = a.threads
    all_clips = make_clips(a.clips_dir, a.manifest)
    clips = [c for c in all_clips if c.name in a.clips.split(",")]
    report = Report(a.out)
    raw: dict[str, dict] = {}
    report.add("# whisper-server CUDA benchmark", "",
               f"- GPU: {gpu_name()}",
               f"- CPU: {machine()}",
               f"- CPU threads per engine: {t}; runs per cell: {a.runs} (median; engine order "
               "shuffled each round; one warm-up discarded)",
               "- clips: " + ", ".join(f"{c.name} {c.seconds:.1f} s" for c in clips),
               f"- model: {a.model.name} (ggml f16, imported from {a.ct2_dir.name}) and the "
               "CTranslate2 folder itself: the same weights",
               "")

    def server(name: str, *extra: str, env=None) -> Server:
        return Server(name, a.server_bin, a.model, t, extra_args=extra, env=env)

    engine_class = faster_whisper_engine()

    def fw(compute_type: str, workers: int = 1) -> FasterWhisper:
        return engine_class(f"faster-whisper {compute_type} cuda", a.ct2_dir, compute_type, t,
                             num_workers=workers, device=a.fw_device)

    CPU_SERVER = f"server cpu {t}t (GPU hidden)"
    makers = {
        "server": lambda: server("server cuda"),
        "server-flash-attention": lambda: server("server cuda flash attention",
                                                 "--flash-attention", "true"),
        "server-full-context": lambda: server("server cuda full context",
                                              "--fit-audio-context", "false"),
        # CUDA builds load f16 matrices as they are; q8_0 is the CPU build's default.
        "server-q8_0": lambda: server("server cuda q8_0", "--weights", "q8_0"),
        # The same binary with the GPU hidden: whisper.cpp falls back to its CPU path.
        "server-cpu": lambda: server(CPU_SERVER, env={"CUDA_VISIBLE_DEVICES": ""}),
        "bare": lambda: Bare("bare whisper-rs cuda", a.bare_bin, a.model, t),
        "fw-float16": lambda: fw("float16"),
        "fw-int8_float16": lambda: fw("int8_float16"),
        "fw-float32": lambda: fw("float32"),
    }

    def chosen(names: str) -> list:
        if unknown := set(names.split(",")) - set(makers):
            sys.exit(f"unknown engines {unknown}; known: {tuple(makers)}")
        return [makers[n] for n in names.split(",")]

    def started(makers) -> list:
        """The engines that start; a failure is reported in place of its rows, not fatal."""
        engines = []
        for make in makers:
            try:
                engines.append(make())
            except Exception as error:  # noqa: BLE001 - any failure to start is reported
                report.add(f"- failed to start an engine: {error!r}", "")
        return engines

    idle: dict = {}

    def timed(title: str, names: str, hog: bool) -> dict:
        engines = started(chosen(names))
        baselines = {"fw float16": BASELINE, "server cpu": CPU_SERVER}
        extra = {"own idle": lambda engine, clip: idle.get((engine, clip))} if hog else None
        try:
            results = timed_section(report, raw, title, engines, clips, a.runs, baselines,
                                    extra, hog)
        finally:
            for engine in engines:
                engine.close()
        return medians(results)

    if "idle" in sections:
        idle = timed("Idle machine", a.engines, hog=False)
    if "hog" in sections:
        timed("Beside one CPU hog (yes > /dev/null)", a.hog_engines or a.engines, hog=True)

    if "concurrency" in sections:
        report.add("## Concurrent clients", "",
                   "- server: one process (`--slots 0`), one HTTP session per client",
                   "- faster-whisper: one WhisperModel with `num_workers=4`, one thread per "
                   "client", "")
        kept = [Kept(lambda: server("server cuda")), Kept(lambda: fw("float16", workers=4))]
        contenders = [
            Contender("server cuda", kept[0], lambda _: "--slots 0"),
            Contender(BASELINE, kept[1], lambda c: f"num_workers 4, {c} client threads"),
        ]
        try:
            for clip in [c for c in all_clips if c.name in a.concurrency_clips.split(",")]:
                per_client = concurrency.requests_per_client(clip, a.requests_per_client)
                concurrency.run_clip(contenders, clip, per_client, 1, report.add,
                                     raw.setdefault("concurrency", {}))
        except Exception as error:  # noqa: BLE001 - the other sections still run
            report.add(f"- the concurrency section failed: {error!r}", "")
        finally:
            for k in kept:
                k.close()

    if "wer" in sections:
        report.add(f"## WER on the real-speech corpus ({a.manifest.name})", "",
                   "| configuration | WER | errors / words |", "|---|---|---|")
        for engine in started(chosen(a.wer_engines)):
            report.add(wer_row(engine, a.manifest, raw))
        report.add("")
    if a.json:
        a.json.write_text(json.dumps(raw, indent=1, default=str))


if __name__ == "__main__":
    main()
