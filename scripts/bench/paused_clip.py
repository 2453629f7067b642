"""The VAD benchmark's held-out "paused" recording: real speech with long pauses, as a dictation,
a meeting or a voicemail has them, some silent and some full of real outdoor sound.

UTTERANCES utterances of the speech corpus, in an order shuffled with ORDER_SEED (so neither the
manifest order nor the prefix the `long` clip takes), joined by pauses of 2-10 s (lengths seeded
with PAUSE_SEED). The pauses alternate: digital silence, then real ambience (a street, then a
night outdoors, in turn; consecutive excerpts through each recording, faded in and out over
FADE_SECONDS so no click looks like speech), then silence again. Each ambience recording is
scaled as a whole to NOISE_BELOW_SPEECH_DB below the RMS of the chosen utterances, so a passing
car is louder than the street's average, as it was when recorded. The ambience comes from
scripts/fetch-ambient-noise.sh.

Cached as paused-v<VERSION>.wav and .txt (the joined references) in the clips folder: the
same corpus and ambience give the same bytes; change VERSION with the recipe.

    venv-py1/bin/python scripts/bench/paused_clip.py   # builds it, prints path and figures
"""

import hashlib
import os
import random
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clips import Clip  # noqa: E402

VERSION = 1
RATE = 16000
UTTERANCES = 28
ORDER_SEED = 19
PAUSE_SEED = 20
PAUSE_SECONDS = (2.0, 10.0)
# A street through an open window, an outdoor night: clearly audible, well under the voice.
NOISE_BELOW_SPEECH_DB = 20.0
NOISE_NAMES = ("street", "night")
FADE_SECONDS = 0.05


@dataclass(frozen=True)
class Utterance:
    wav: Path
    reference: str


def read_pcm(path: Path) -> np.ndarray:
    """The samples of a 16 kHz mono s16 WAV file, as int16."""
    with wave.open(str(path)) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise SystemExit(f"{path}: not 16 kHz mono s16")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def write_pcm(path: Path, samples: np.ndarray) -> None:
    """Writes atomically: a half-written clip never looks finished."""
    tmp = path.with_suffix(".tmp.wav")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    os.replace(tmp, path)


def choose(manifest_lines: list[str]) -> list[Utterance]:
    """UTTERANCES corpus lines in a seeded shuffled order."""
    order = random.Random(ORDER_SEED).sample(manifest_lines, len(manifest_lines))
    chosen = [line.split("\t", 1) for line in order[:UTTERANCES]]
    return [Utterance(Path(wav), reference) for wav, reference in chosen]


def pause_lengths(count: int) -> list[int]:
    """Seeded pause lengths in samples, whole 10 ms steps."""
    rng = random.Random(PAUSE_SEED)
    return [round(rng.uniform(*PAUSE_SECONDS) * 100) * RATE // 100 for _ in range(count)]


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def level_gain(speech_rms: float, noise_rms: float) -> float:
    """The factor that puts noise at NOISE_BELOW_SPEECH_DB below the speech."""
    return speech_rms / noise_rms * 10 ** (-NOISE_BELOW_SPEECH_DB / 20)


def excerpt(noise: np.ndarray, start: int, length: int) -> np.ndarray:
    """length samples of noise from start, wrapping around its end."""
    return np.take(noise, np.arange(start, start + length), mode="wrap")


def faded(samples: np.ndarray) -> np.ndarray:
    """Raised-cosine fade in and out over FADE_SECONDS."""
    n = min(int(FADE_SECONDS * RATE), len(samples) // 2)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))
    out = samples.astype(np.float64)
    out[:n] *= ramp
    out[len(out) - n:] *= ramp[::-1]
    return out


def to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


@dataclass
class Ambience:
    """The scaled ambience recordings, and where the next excerpt of each starts."""
    noises: list[np.ndarray]
    starts: list[int]
    taken: int = 0

    def next(self, length: int) -> np.ndarray:
        which = self.taken % len(self.noises)
        self.taken += 1
        piece = excerpt(self.noises[which], self.starts[which], length)
        self.starts[which] = (self.starts[which] + length) % len(self.noises[which])
        return to_int16(faded(piece))


def assemble(speech: list[np.ndarray], pauses: list[int], ambience: Ambience) -> np.ndarray:
    """Utterances joined by the pauses: even pauses silent, odd ones ambience."""
    parts = [speech[0]]
    for i, (length, utterance) in enumerate(zip(pauses, speech[1:], strict=True)):
        parts.append(ambience.next(length) if i % 2 else np.zeros(length, np.int16))
        parts.append(utterance)
    return np.concatenate(parts)


def build(manifest: Path, noise_dir: Path) -> tuple[np.ndarray, str]:
    """The paused recording's samples and its reference text."""
    for needed, maker in ((manifest, "fetch-speech-corpus.sh"),
                          (noise_dir / "SOURCE", "fetch-ambient-noise.sh")):
        if not needed.exists():
            raise SystemExit(f"no {needed}: run scripts/{maker}")
    utterances = choose(manifest.read_text().splitlines())
    speech = [read_pcm(u.wav) for u in utterances]
    speech_rms = rms(np.concatenate(speech))
    raw = [read_pcm(noise_dir / f"{name}.wav") for name in NOISE_NAMES]
    noises = [n * level_gain(speech_rms, rms(n)) for n in raw]
    ambience = Ambience(noises, [0] * len(noises))
    samples = assemble(speech, pause_lengths(len(speech) - 1), ambience)
    return samples, " ".join(u.reference for u in utterances)


def make_paused_clip(clips_dir: Path, manifest: Path, noise_dir: Path) -> Clip:
    """The cached paused recording, built first where it is missing."""
    wav = clips_dir / f"paused-v{VERSION}.wav"
    text = wav.with_suffix(".txt")
    if not (wav.exists() and text.exists()):
        clips_dir.mkdir(parents=True, exist_ok=True)
        samples, reference = build(manifest, noise_dir)
        text.write_text(reference + "\n")
        write_pcm(wav, samples)
    seconds = len(read_pcm(wav)) / RATE
    return Clip("paused", wav, seconds, text.read_text().strip())


def describe(manifest: Path, noise_dir: Path) -> str:
    """How the recording is made up: speech, silence and ambience seconds, and the level."""
    utterances = choose(manifest.read_text().splitlines())
    speech = [read_pcm(u.wav) for u in utterances]
    pauses = pause_lengths(len(speech) - 1)
    silent, noisy = sum(pauses[0::2]) / RATE, sum(pauses[1::2]) / RATE
    talk = sum(len(s) for s in speech) / RATE
    return (f"{len(speech)} utterances ({talk:.1f} s), {len(pauses)} pauses of "
            f"{min(pauses) / RATE:.2f}-{max(pauses) / RATE:.2f} s: {len(pauses[0::2])} silent "
            f"({silent:.1f} s), {len(pauses[1::2])} ambience ({noisy:.1f} s, "
            f"{'/'.join(NOISE_NAMES)} in turn, {NOISE_BELOW_SPEECH_DB:.0f} dB below the speech "
            f"RMS of {20 * np.log10(rms(np.concatenate(speech)) / 32768):.1f} dBFS)")


def main() -> None:
    cache = Path(os.environ.get("WHISPER_OPERATOR_CACHE", Path.home() / ".cache/whisper-operator"))
    manifest = cache / "speech-corpus-v1/manifest.tsv"
    noise_dir = cache / "ambient-noise-v1"
    clip = make_paused_clip(cache / "bench-clips-v1", manifest, noise_dir)
    digest = hashlib.sha256(clip.path.read_bytes()).hexdigest()
    print(f"{clip.path}: {clip.seconds:.2f} s, sha256 {digest}")
    print(describe(manifest, noise_dir))
    print(f"reference: {len(clip.reference.split())} words")


if __name__ == "__main__":
    main()
