"""Unit tests of paused_clip.py on made-up speech and noise (run: venv-py1/bin/python -m pytest
scripts/bench). The real recording needs the corpus and the ambience package; these need
neither."""

from pathlib import Path

import numpy as np
import pytest

import paused_clip as pc


def test_pauses_are_seeded_and_in_range():
    pauses = pc.pause_lengths(27)
    assert pauses == pc.pause_lengths(27)
    assert all(2 * pc.RATE <= p <= 10 * pc.RATE and p % 160 == 0 for p in pauses)
    assert len(set(pauses)) > 20


def test_choose_shuffles_a_fixed_subset():
    lines = [f"/c/{i}.wav\tword {i}" for i in range(42)]
    chosen = pc.choose(lines)
    assert chosen == pc.choose(lines)
    assert len(chosen) == pc.UTTERANCES
    assert [u.wav for u in chosen] != [Path(f"/c/{i}.wav") for i in range(pc.UTTERANCES)]
    assert len({u.wav for u in chosen}) == pc.UTTERANCES


def test_noise_is_scaled_below_the_speech():
    speech, noise = np.full(100, 1000.0), np.full(100, 500.0)
    gain = pc.level_gain(pc.rms(speech), pc.rms(noise))
    assert 20 * np.log10(pc.rms(speech) / pc.rms(noise * gain)) == pytest.approx(
        pc.NOISE_BELOW_SPEECH_DB)


def test_excerpts_wrap_and_fades_start_and_end_at_zero():
    assert list(pc.excerpt(np.arange(5), 3, 4)) == [3, 4, 0, 1]
    out = pc.faded(np.full(pc.RATE, 1000.0))
    assert out[0] == 0 and out[-1] == 0 and out[pc.RATE // 2] == 1000


def test_pauses_alternate_silence_and_ambience_in_turn():
    speech = [np.full(10, 7, np.int16) for _ in range(5)]
    noises = [np.full(1000, 100.0), np.full(1000, 200.0)]
    out = pc.assemble(speech, [pc.RATE // 10] * 4, pc.Ambience(noises, [0, 0]))
    pauses = [out[10 + i * (pc.RATE // 10 + 10):][:pc.RATE // 10] for i in range(4)]
    assert [int(p.max()) for p in pauses] == [0, 100, 0, 200]
    assert len(out) == 5 * 10 + 4 * pc.RATE // 10


def _corpus(folder: Path) -> tuple[Path, Path]:
    """A made-up corpus of 42 tones and two noise recordings, as the fetch scripts lay them."""
    rng = np.random.default_rng(1)
    lines = []
    for i in range(42):
        wav = folder / f"u{i}.wav"
        t = np.arange(int(pc.RATE * (1 + i % 5))) / pc.RATE
        pc.write_pcm(wav, pc.to_int16(8000 * np.sin(2 * np.pi * (200 + 10 * i) * t)))
        lines.append(f"{wav}\tutterance {i}")
    manifest = folder / "manifest.tsv"
    manifest.write_text("\n".join(lines) + "\n")
    noise_dir = folder / "noise"
    noise_dir.mkdir()
    (noise_dir / "SOURCE").write_text("made up\n")
    for name in pc.NOISE_NAMES:
        pc.write_pcm(noise_dir / f"{name}.wav", pc.to_int16(rng.normal(0, 3000, pc.RATE * 20)))
    return manifest, noise_dir


def test_the_clip_is_the_same_bytes_every_time(tmp_path):
    manifest, noise_dir = _corpus(tmp_path)
    first = pc.make_paused_clip(tmp_path / "a", manifest, noise_dir)
    second = pc.make_paused_clip(tmp_path / "b", manifest, noise_dir)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.reference == second.reference
    assert len(first.reference.split()) == 2 * pc.UTTERANCES
    speech = sum(len(pc.read_pcm(u.wav)) for u in pc.choose(manifest.read_text().splitlines()))
    pauses = first.seconds - speech / pc.RATE
    assert 2 * (pc.UTTERANCES - 1) <= pauses <= 10 * (pc.UTTERANCES - 1)
    assert pc.make_paused_clip(tmp_path / "a", manifest, noise_dir) == first  # reused
