"""The engines compared, each behind one call: transcribe(path) -> (seconds, text).

bare:   server/examples/bench_inference (whisper-rs, no HTTP); seconds = full() only
server: the whisper-server binary over HTTP on loopback; seconds = the whole request
fw:     faster-whisper in this process on the same tiny.en weights; seconds = transcribe()
        plus consuming its segments (it decodes the file itself, as the server does)

For concurrent clients every engine also has client() -> a handle with transcribe(path) and
close(), one per client thread: the server gives each its own HTTP session, faster-whisper
shares one model (num_workers decode in parallel), bare whisper-rs (BareProcesses) starts one
process per client.
"""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import requests

# Every engine is told the clips' language: a multilingual model (base) would otherwise detect
# it, which costs each engine differently.
LANGUAGE = "en"


class Bare:
    def __init__(self, name: str, binary: Path, model: Path, threads: int,
                 audio_ctx_margin: int | None = None, no_timestamps: bool = False):
        self.name = name
        args = [str(binary), "--model", str(model), "--threads", str(threads),
                "--language", LANGUAGE]
        if audio_ctx_margin is not None:
            args += ["--audio-ctx-margin", str(audio_ctx_margin)]
        if no_timestamps:
            args.append("--no-timestamps")
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)

    def transcribe(self, path: Path) -> tuple[float, str]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: bench_inference exited ({self.process.wait()})")
        record = json.loads(line)
        return record["seconds"], record["text"]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


class BareProcesses:
    """Bare whisper-rs serving several clients as a user of the library would: one process per
    client, each with its share of the threads. Processes start at client(), not here."""

    def __init__(self, name: str, binary: Path, model: Path, threads_per_process: int):
        self.name = name
        self.args = (binary, model, threads_per_process)

    def client(self) -> Bare:
        return Bare(self.name, *self.args)

    def close(self) -> None:
        pass


class Shared:
    """A client handle on an engine that serves several threads at once; closing it leaves the
    engine open."""

    def __init__(self, engine):
        self.engine = engine

    def transcribe(self, path: Path) -> tuple[float, str]:
        return self.engine.transcribe(path)

    def close(self) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """slots=0 is the server's own default (one per thread, at most 4)."""

    def __init__(self, name: str, binary: Path, model: Path, threads: int, slots: int = 0,
                 extra_args: tuple[str, ...] = (), fields: dict[str, str] | None = None,
                 env: dict[str, str] | None = None):
        self.name = name
        self.fields = {"response_format": "json", "language": LANGUAGE, **(fields or {})}
        self.base = f"http://127.0.0.1:{_free_port()}"
        self.process = subprocess.Popen([
            str(binary), "--model", str(model), "--listen", self.base.removeprefix("http://"),
            "--threads", str(threads), "--slots", str(slots), "--queue", "64",
            "--log", "warn", *extra_args], env={**os.environ, **(env or {})})
        self.session = requests.Session()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name}: whisper-server exited with {self.process.returncode}")
            try:
                if self.session.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.close()
        raise RuntimeError(f"{name}: whisper-server not ready within 120 s")

    def request(self, session: requests.Session, audio: bytes) -> tuple[float, str]:
        """One timed request on the given session (one session per client thread)."""
        started = time.perf_counter()
        response = session.post(f"{self.base}/v1/audio/transcriptions",
                                files={"file": ("clip.wav", audio, "audio/wav")},
                                data=self.fields, timeout=600)
        seconds = time.perf_counter() - started
        response.raise_for_status()
        return seconds, response.json()["text"]

    def transcribe(self, path: Path) -> tuple[float, str]:
        return self.request(self.session, path.read_bytes())

    def client(self) -> "ServerClient":
        return ServerClient(self)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


class ServerClient:
    """One HTTP client of a running server, with its own session (connection)."""

    def __init__(self, server: Server):
        self.server = server
        self.session = requests.Session()

    def transcribe(self, path: Path) -> tuple[float, str]:
        return self.server.request(self.session, path.read_bytes())

    def close(self) -> None:
        self.session.close()


class FasterWhisper:
    """num_workers: transcriptions CTranslate2 runs at once (from as many Python threads), each
    with cpu_threads threads. device: "cpu" or "cuda"."""

    def __init__(self, name: str, model_dir: Path, compute_type: str, threads: int,
                 num_workers: int = 1, device: str = "cpu"):
        from faster_whisper import WhisperModel

        self.name = name
        self.model = WhisperModel(str(model_dir), device=device, compute_type=compute_type,
                                  cpu_threads=threads, num_workers=num_workers,
                                  local_files_only=True)

    def audio(self, path: Path):
        """What transcribe() hands faster-whisper: the path (it decodes the file itself)."""
        return str(path)

    def transcribe(self, path: Path) -> tuple[float, str]:
        started = time.perf_counter()
        # beam_size=1: greedy, as whisper.cpp and the server decode.
        segments, _ = self.model.transcribe(self.audio(path), beam_size=1, language=LANGUAGE)
        text = "".join(segment.text for segment in segments).strip()
        return time.perf_counter() - started, text

    def client(self) -> Shared:
        return Shared(self)

    def close(self) -> None:
        del self.model
