"""The kinds of request a soak run sends, each an async function that returns one Outcome.

Well-formed clients go through httpx; the misbehaving ones (hanging up mid-upload, stalling in
the head or the body) speak HTTP over a raw asyncio socket, since a real client library will not
misbehave on purpose."""

import asyncio
import os
import random
import time
import uuid
from dataclasses import dataclass

import httpx

import tally
from wer import corpus_wer

PATH = "/v1/audio/transcriptions"
# A transcript is right at or below CLEARLY_RIGHT word error rate against its clip's text (tiny.en
# gets a few percent on most clips). Above it, it is still right when no other clip's text fits
# it better and it is under CLEARLY_WRONG: tiny.en mishears some short telephone prompts by half
# of their words, every time.
CLEARLY_RIGHT = 0.35
CLEARLY_WRONG = 0.75


@dataclass(frozen=True)
class Clip:
    name: str
    audio: bytes
    reference: str


@dataclass(frozen=True)
class Limits:
    """The server's limits the soak starts it with, which some kinds provoke on purpose."""
    max_upload_bytes: int
    header_read_seconds: float
    upload_timeout_seconds: float
    min_upload_bytes_per_second: int


class Traffic:
    def __init__(self, base: str, clips: list[Clip], limits: Limits, started: float):
        self.base = base
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        self.clips = {c.name: c for c in clips}
        self.limits = limits
        self.started = started
        self.client = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(300.0),
                                        limits=httpx.Limits(max_connections=64))

    async def close(self) -> None:
        await self.client.aclose()

    def _outcome(self, kind, t0, result, status=None, detail="") -> tally.Outcome:
        return tally.Outcome(kind, t0 - self.started, time.monotonic() - t0, result, status,
                             detail)

    def _throttled_or_failed(self, kind, t0, r: httpx.Response) -> tally.Outcome | None:
        """The outcome of a 429 or a 5xx, which mean the same for every kind; else None."""
        if r.status_code == 429:
            return self._outcome(kind, t0, tally.THROTTLED, 429)
        if r.status_code >= 500:
            return self._outcome(kind, t0, tally.SERVER_ERROR, r.status_code, r.text[:200])
        return None

    # --- Well-formed clients.

    async def good(self, clip_name: str) -> tally.Outcome:
        clip = self.clips[clip_name]
        kind, t0 = f"good:{clip_name}", time.monotonic()
        try:
            r = await self.client.post(PATH, data={"model": "whisper-1"},
                                       files={"file": ("clip.wav", clip.audio, "audio/wav")})
        except httpx.HTTPError as e:
            return self._outcome(kind, t0, tally.LOST, detail=f"{type(e).__name__}: {e}")
        if settled := self._throttled_or_failed(kind, t0, r):
            return settled
        if r.status_code != 200:
            return self._outcome(kind, t0, tally.WRONG, r.status_code, r.text[:200])
        try:
            text = r.json()["text"]
        except (ValueError, KeyError) as e:
            return self._outcome(kind, t0, tally.WRONG, 200, f"not a transcript: {e}")
        if why := self._misheard(clip, text):
            return self._outcome(kind, t0, tally.WRONG, 200, f"{why}: {text[:120]!r}")
        return self._outcome(kind, t0, tally.OK, 200)

    def _misheard(self, clip: Clip, text: str) -> str | None:
        """Why `text` is not a transcript of `clip` (empty, garbled, another clip's), or None."""
        rate, _, _ = corpus_wer([(clip.reference, text)])
        if rate <= CLEARLY_RIGHT:
            return None
        if rate > CLEARLY_WRONG:
            return f"WER {rate:.2f}"
        for other in self.clips.values():
            if other.name != clip.name:
                other_rate, _, _ = corpus_wer([(other.reference, text)])
                if other_rate < rate:
                    return f"WER {rate:.2f}, and {other_rate:.2f} against {other.name}'s text"
        return None

    async def bad(self) -> tally.Outcome:
        """Input the server must refuse with a 4xx and a JSON error body."""
        which = random.choice(["random-bytes", "no-file", "not-multipart", "cut-wav",
                               "unknown-format"])
        kind, t0 = f"bad:{which}", time.monotonic()
        wav = self.clips["short"].audio
        requests = {
            "random-bytes": dict(files={"file": ("x.wav", os.urandom(20_000), "audio/wav")}),
            "no-file": dict(data={"model": "whisper-1"}),
            "not-multipart": dict(json={"model": "whisper-1", "file": "clip.wav"}),
            "cut-wav": dict(files={"file": ("x.wav", wav[:60], "audio/wav")}),
            "unknown-format": dict(files={"file": ("x.wav", wav, "audio/wav")},
                                   data={"response_format": "mp5"}),
        }
        try:
            r = await self.client.post(PATH, **requests[which])
        except httpx.HTTPError as e:
            return self._outcome(kind, t0, tally.LOST, detail=f"{type(e).__name__}: {e}")
        return self._refusal(kind, t0, r, {400, 415})

    async def oversized(self) -> tally.Outcome:
        kind, t0 = "oversized", time.monotonic()
        body = os.urandom(self.limits.max_upload_bytes + 1_000_000)
        try:
            r = await self.client.post(PATH, files={"file": ("big.wav", body, "audio/wav")})
        except httpx.HTTPError as e:
            return self._outcome(kind, t0, tally.LOST, detail=f"{type(e).__name__}: {e}")
        return self._refusal(kind, t0, r, {413})

    def _refusal(self, kind, t0, r: httpx.Response, due: set[int]) -> tally.Outcome:
        if settled := self._throttled_or_failed(kind, t0, r):
            return settled
        try:
            message = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = None
        if r.status_code not in due or not message:
            return self._outcome(kind, t0, tally.WRONG, r.status_code,
                                 f"expected {sorted(due)} with a JSON error: {r.text[:200]}")
        return self._outcome(kind, t0, tally.REFUSED, r.status_code)

    async def hang_up_mid_inference(self) -> tally.Outcome:
        """Sends a whole long clip and goes away while it is being transcribed."""
        kind, t0 = "hang-up:inference", time.monotonic()
        clip = self.clips["long"]
        async with httpx.AsyncClient(base_url=self.base,
                                     timeout=httpx.Timeout(30.0, read=0.5)) as one_off:
            try:
                r = await one_off.post(PATH, files={"file": ("c.wav", clip.audio, "audio/wav")})
            except httpx.ReadTimeout:
                return self._outcome(kind, t0, tally.HUNG_UP)
            except httpx.HTTPError as e:
                return self._outcome(kind, t0, tally.LOST, detail=f"{type(e).__name__}: {e}")
        if settled := self._throttled_or_failed(kind, t0, r):
            return settled
        return self._outcome(kind, t0, tally.HUNG_UP, r.status_code, "answered before the hang-up")

    # --- Misbehaving clients, on raw sockets.

    def _multipart(self, audio: bytes) -> tuple[bytes, bytes]:
        """(request head, body) of a well-formed multipart upload of `audio`."""
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"c.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode() + audio + \
            f"\r\n--{boundary}--\r\n".encode()
        head = (f"POST {PATH} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        return head, body

    async def hang_up_mid_upload(self) -> tally.Outcome:
        kind, t0 = "hang-up:upload", time.monotonic()
        head, body = self._multipart(self.clips["medium"].audio)
        try:
            _, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        except OSError as e:
            return self._outcome(kind, t0, tally.LOST, detail=f"connect or send: {e}")
        return self._outcome(kind, t0, tally.HUNG_UP)

    async def stalled_upload(self) -> tally.Outcome:
        """Half a body, then nothing: the server must answer 408 once the upload falls behind
        its pace, not wait for ever."""
        kind, t0 = "stalled:upload", time.monotonic()
        head, body = self._multipart(self.clips["short"].audio)
        half = len(body) // 2
        due = (self.limits.upload_timeout_seconds
               + half / self.limits.min_upload_bytes_per_second)
        return await self._stalled(kind, t0, head + body[:half], due, {408})

    async def stalled_head(self) -> tally.Outcome:
        """Half a request head, then nothing (slowloris): the server must close the connection
        once its header read timeout has passed."""
        kind, t0 = "stalled:head", time.monotonic()
        partial = f"POST {PATH} HTTP/1.1\r\nHost: {self.host}\r\n".encode()
        return await self._stalled(kind, t0, partial, self.limits.header_read_seconds, set())

    async def _stalled(self, kind, t0, sent: bytes, due: float,
                       statuses: set[int]) -> tally.Outcome:
        """Sends `sent`, then waits for the server to answer with one of `statuses` or (if
        empty) to close the connection, by `due` seconds plus some slack."""
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as e:
            return self._outcome(kind, t0, tally.LOST, detail=f"connect: {e}")
        try:
            writer.write(sent)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(4096), due + 5.0)
        except asyncio.TimeoutError:
            return self._outcome(kind, t0, tally.WRONG,
                                 detail=f"still open {due + 5.0:.0f} s after the stall")
        except OSError as e:
            answer = b""
            if not isinstance(e, ConnectionResetError):
                return self._outcome(kind, t0, tally.LOST, detail=f"{e}")
        finally:
            writer.close()
        if not answer:
            result = tally.REFUSED if not statuses else tally.WRONG
            return self._outcome(kind, t0, result, detail="closed without an answer")
        status = _status_of(answer)
        if status == 429:
            return self._outcome(kind, t0, tally.THROTTLED, 429)
        if status is not None and status >= 500:
            return self._outcome(kind, t0, tally.SERVER_ERROR, status)
        if status not in statuses:
            return self._outcome(kind, t0, tally.WRONG, status, answer[:120].decode("latin-1"))
        return self._outcome(kind, t0, tally.REFUSED, status)


def _status_of(answer: bytes) -> int | None:
    parts = answer.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None
