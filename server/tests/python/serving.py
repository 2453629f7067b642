"""The built whisper-server on a free loopback port, for the Python tests (`running_server`).

The binary is $WHISPER_SERVER_BIN, else the workspace's debug build, else its release build
(under $CARGO_TARGET_DIR when set); the model is $WHISPER_TEST_MODEL, else the cached tiny.en.
"""

import contextlib
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

SENTENCE = "Hello world. The quick brown fox jumps over the lazy dog."
EXPECTED = "Hello world, the quick brown fox jumps over the lazy dog."
REPO = Path(__file__).resolve().parents[3]


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def first_file(candidates, missing: str) -> Path:
    """The first candidate path that is a file; the test fails with `missing` if none is."""
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail(missing)


def find_model() -> Path:
    home = Path.home()
    return first_file(
        [
            os.environ.get("WHISPER_TEST_MODEL"),
            home / ".cache/whisper-operator/models/ggml-tiny.en.bin",
            home / ".cache/whisper-operator/dev/ggml-tiny.en.reference.bin",
        ],
        "no tiny.en model found: run scripts/fetch-model.sh (or set WHISPER_TEST_MODEL)",
    )


def find_binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return first_file(
        [
            os.environ.get("WHISPER_SERVER_BIN"),
            target / "debug/whisper-server",
            target / "release/whisper-server",
        ],
        "whisper-server is not built: run `cargo build -p whisper-server`",
    )


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"whisper-server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail("whisper-server did not become ready")


@contextlib.contextmanager
def running_server(*flags: str):
    """The built server on a free loopback port, with these extra flags."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(find_binary()), "--model", str(find_model()), "--listen", f"127.0.0.1:{port}", *flags],
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
