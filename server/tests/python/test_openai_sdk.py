"""The official `openai` Python SDK against whisper-server.

Uses the server at $WHISPER_SERVER_URL, or starts the built binary on a free loopback port
(`serving.running_server`).
"""

import os
import subprocess
from pathlib import Path

import openai
import pytest
from serving import EXPECTED, normalise, running_server


@pytest.fixture(scope="module")
def server_url():
    if os.environ.get("WHISPER_SERVER_URL"):
        yield os.environ["WHISPER_SERVER_URL"].rstrip("/")
        return
    with running_server() as url:
        yield url


@pytest.fixture(scope="module")
def client(server_url):
    return openai.OpenAI(base_url=f"{server_url}/v1", api_key=os.environ.get("WHISPER_API_KEY", "unused"))


def test_json_transcription(client, speech):
    with speech.open("rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio)
    assert normalise(result.text) == normalise(EXPECTED)


def test_text_transcription(client, speech):
    with speech.open("rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="text")
    assert normalise(result) == normalise(EXPECTED)


def test_verbose_json_transcription_with_words(client, speech):
    with speech.open("rb") as audio:
        result = client.audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert result.language == "english"
    assert 3.0 < result.duration < 6.0
    assert normalise(result.text) == normalise(EXPECTED)
    assert result.segments and result.segments[0].start >= 0.0
    assert normalise(" ".join(w.word for w in result.words)) == normalise(EXPECTED)


def test_translation(client, speech):
    with speech.open("rb") as audio:
        result = client.audio.translations.create(model="whisper-1", file=audio)
    assert normalise(result.text) == normalise(EXPECTED)


def test_models_list(client):
    assert [m.id for m in client.models.list()] == ["whisper-1"]


def test_bad_file_is_an_sdk_error_with_openai_shape(client):
    with pytest.raises(openai.APIStatusError) as raised:
        client.audio.transcriptions.create(model="whisper-1", file=("noise.wav", os.urandom(4096)))
    assert raised.value.status_code in (400, 415)
    assert raised.value.body["code"] in ("decode_failed", "unsupported_format")


def test_json_transcription_with_logprobs(client, speech):
    with speech.open("rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio, include=["logprobs"])
    assert normalise(result.text) == normalise(EXPECTED)
    assert result.logprobs, "include=['logprobs'] should return the tokens' log probabilities"
    assert normalise("".join(t.token for t in result.logprobs)) == normalise(EXPECTED)
    assert all(t.logprob <= 0.0 for t in result.logprobs)
    # The SDK types `bytes` as a list of floats.
    assert all(bytes(int(b) for b in t.bytes).decode("utf-8", "replace") == t.token for t in result.logprobs)


def test_logprobs_with_another_format_is_a_400(client, speech):
    with pytest.raises(openai.BadRequestError) as raised:
        with speech.open("rb") as audio:
            client.audio.transcriptions.create(
                model="whisper-1", file=audio, response_format="srt", include=["logprobs"]
            )
    assert "logprobs" in raised.value.body["message"]


@pytest.fixture(scope="module")
def long_speech(speech, tmp_path_factory) -> Path:
    """The sentence eight times over, 36 s: more than one window, so more than one delta."""
    out = tmp_path_factory.mktemp("long") / "long.wav"
    subprocess.run(["sox", *[str(speech)] * 8, str(out)], check=True)
    return out


def test_stream_deltas_join_to_the_done_text(client, long_speech):
    with long_speech.open("rb") as audio:
        events = list(client.audio.transcriptions.create(model="whisper-1", file=audio, stream=True))
    kinds = [event.type for event in events]
    assert kinds[-1] == "transcript.text.done" and kinds.count("transcript.text.done") == 1, kinds
    deltas = [event.delta for event in events if event.type == "transcript.text.delta"]
    assert len(deltas) >= 2, kinds
    done = events[-1]
    assert "".join(deltas).strip() == done.text
    assert normalise(done.text).count("quick brown fox") >= 7, done.text
    assert done.usage.output_tokens > 0 and done.usage.input_tokens > 0


def test_stream_with_logprobs_carries_them_in_each_delta(client, speech):
    with speech.open("rb") as audio:
        events = list(
            client.audio.transcriptions.create(model="whisper-1", file=audio, stream=True, include=["logprobs"])
        )
    deltas = [event for event in events if event.type == "transcript.text.delta"]
    assert deltas and all(event.logprobs for event in deltas)
    assert normalise("".join(t.token for e in deltas for t in e.logprobs)) == normalise(EXPECTED)


def test_stream_failing_after_it_began_raises_the_servers_error(speech):
    # A time limit no inference meets: the stream begins, then carries the error event.
    if os.environ.get("WHISPER_SERVER_URL"):
        pytest.skip("needs its own server with a tiny time limit")
    with running_server("--timeout-base-seconds", "0.001", "--timeout-per-audio-second", "0") as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused")
        with pytest.raises(openai.APIError) as raised:
            with speech.open("rb") as audio:
                list(client.audio.transcriptions.create(model="whisper-1", file=audio, stream=True))
    assert "time limit" in raised.value.message
    assert raised.value.body["code"] == "timeout"
