"""The benchmark clips, generated once into a cache folder with flite and sox.

short:  flite "Hello world. The quick brown fox ..." (the server tests' sentence), about 4.5 s
medium: five Harvard sentences read by flite, about 10.8 s
three-sentences, eight-sentences: other Harvard sentences read by flite, about 7 s and 18 s
        (clip lengths the figures were not tuned on)
long:   real recorded speech (LibriVox reader, then telephone prompts) from the accuracy corpus,
        concatenated in manifest order until it passes 2 minutes
long-2: a second real recording, 164.8 s, that shares no utterance with the corpus
        (scripts/fetch-long-recording-2.sh); only where that script's WAV exists or is passed in
"""

import os
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

SHORT_TEXT = "Hello world. The quick brown fox jumps over the lazy dog."
MEDIUM_TEXT = ("The birch canoe slid on the smooth planks. Glue the sheet to the dark blue "
               "background. It is easy to tell the depth of a well. These days a chicken leg "
               "is a rare dish. Help the woman.")
THREE_SENTENCES = ("The boy was there when the sun rose. A rod is used to catch pink salmon. "
                   "The source of the huge river is the clear spring.")
EIGHT_SENTENCES = ("The small pup gnawed a hole in the sock. The fish twisted and turned on the "
                   "bent hook. Press the pants and sew a button on the vest. The swan dive was "
                   "far short of perfect. The beauty of the view stunned the young boy. Two blue "
                   "fish swam in the tank. Her purse was full of useless trash. The colt reared "
                   "and threw the tall rider.")
LONG_SECONDS = 120.0
# Where the second long recording is looked for when make_clips is not given one.
LONG2_ENV = "WHISPER_BENCH_LONG2"


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    seconds: float
    reference: str


def _duration(path: Path) -> float:
    """Seconds of a PCM WAV file (the standard library reads its header; no sox needed where
    the clips already exist, as on a GPU machine they were copied to)."""
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _to_whisper_wav(source: Path, out: Path) -> None:
    subprocess.run(["sox", str(source), "-r", "16000", "-c", "1", "-b", "16", str(out)],
                   check=True)


def _flite(text: str, out: Path) -> None:
    if out.exists():
        return
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["flite", "-voice", "rms", "-t", text, "-o", str(raw)], check=True)
    tmp = out.with_suffix(".tmp.wav")
    _to_whisper_wav(raw, tmp)
    raw.unlink()
    tmp.rename(out)


def _long(manifest: Path, out: Path) -> str:
    """Concatenates corpus clips until LONG_SECONDS; returns the joined reference text."""
    chosen, references, total = [], [], 0.0
    for line in manifest.read_text().splitlines():
        wav, reference = line.split("\t", 1)
        chosen.append(wav)
        references.append(reference)
        total += _duration(Path(wav))
        if total >= LONG_SECONDS:
            break
    if total < LONG_SECONDS:
        raise SystemExit(f"{manifest} holds only {total:.0f} s of speech")
    if not out.exists():
        tmp = out.with_suffix(".tmp.wav")
        subprocess.run(["sox", *chosen, str(tmp)], check=True)
        tmp.rename(out)
    return " ".join(references)


def long2_wav(explicit: Path | None = None) -> Path | None:
    """The second long recording: the path given, else $WHISPER_BENCH_LONG2, else
    scripts/fetch-long-recording-2.sh's output in the cache if it has been run; None if none."""
    if explicit is None and (env := os.environ.get(LONG2_ENV)):
        explicit = Path(env)
    if explicit is not None:
        if not explicit.exists():
            raise SystemExit(f"{explicit}: no such recording "
                             "(scripts/fetch-long-recording-2.sh makes it)")
        return explicit
    cache = Path(os.environ.get("WHISPER_OPERATOR_CACHE")
                 or Path.home() / ".cache" / "whisper-operator")
    default = cache / "long-recording-2-v1" / "long2.wav"
    return default if default.exists() else None


def make_clips(cache: Path, manifest: Path, long2: Path | None = None) -> list[Clip]:
    """The clips above; "long-2" only where long2_wav(long2) finds the recording (its reference
    transcript is the .txt file beside it)."""
    cache.mkdir(parents=True, exist_ok=True)
    short, medium, long = cache / "short.wav", cache / "medium.wav", cache / "long.wav"
    _flite(SHORT_TEXT, short)
    _flite(MEDIUM_TEXT, medium)
    long_reference = _long(manifest, long)
    flite_clips = [("short", short, SHORT_TEXT), ("medium", medium, MEDIUM_TEXT)]
    for name, text in (("three-sentences", THREE_SENTENCES), ("eight-sentences", EIGHT_SENTENCES)):
        path = cache / f"{name}.wav"
        _flite(text, path)
        flite_clips.append((name, path, text))
    clips = [Clip(name, path, _duration(path), text) for name, path, text in flite_clips] + [
        Clip("long", long, _duration(long), long_reference)]
    if (long2_path := long2_wav(long2)) is not None:
        reference = long2_path.with_suffix(".txt").read_text().strip()
        clips.append(Clip("long-2", long2_path, _duration(long2_path), reference))
    return clips
