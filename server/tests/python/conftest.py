"""Fixtures the Python tests share."""

import subprocess
from pathlib import Path

import pytest
from serving import SENTENCE


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("speech")
    raw, wav = directory / "raw.wav", directory / "speech.wav"
    subprocess.run(["flite", "-voice", "rms", "-t", SENTENCE, "-o", str(raw)], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
    return wav
