"""`chunking_strategy` through the official `openai` Python SDK, against the built server given
a VAD model that its own `import-silero-vad` made from the Silero model faster-whisper bundles.
"""

import subprocess
from pathlib import Path

import faster_whisper
import openai
import pytest
from serving import EXPECTED, find_binary, normalise, running_server

# The recording below: 6 s of silence, the sentence, 8 s of silence, the sentence again.
LEAD_SECONDS = 6.0


@pytest.fixture(scope="module")
def vad_model(tmp_path_factory) -> Path:
    onnx = Path(faster_whisper.__file__).parent / "assets/silero_vad_v6.onnx"
    out = tmp_path_factory.mktemp("vad") / "ggml-silero-v6.0.0.bin"
    subprocess.run(
        [str(find_binary()), "import-silero-vad", "--input", str(onnx), "--output", str(out)],
        check=True,
    )
    return out


@pytest.fixture(scope="module")
def client(vad_model):
    with running_server("--vad-model", str(vad_model), "--threads", "2") as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused")


@pytest.fixture(scope="module")
def paused_speech(speech, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("paused")
    lead, gap = directory / "lead.wav", directory / "gap.wav"
    for path, seconds in ((lead, LEAD_SECONDS), (gap, 8)):
        subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path),
                        "trim", "0", str(seconds)], check=True)
    out = directory / "paused.wav"
    subprocess.run(["sox", str(lead), str(speech), str(gap), str(speech), str(out)], check=True)
    return out


def transcribe(client, path: Path, chunking_strategy):
    with path.open("rb") as audio:
        return client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="verbose_json",
            chunking_strategy=chunking_strategy)


def test_auto_transcribes_the_speech_at_the_recordings_times(client, paused_speech):
    result = transcribe(client, paused_speech, "auto")
    assert normalise(result.text) == normalise(f"{EXPECTED} {EXPECTED}")
    assert result.duration > 20.0
    assert abs(result.segments[0].start - LEAD_SECONDS) < 1.0, result.segments
    # The second sentence is said after the first (about 4.5 s) and the 8 s gap.
    assert result.segments[-1].start > LEAD_SECONDS + 11.0, result.segments


def test_a_server_vad_object_goes_as_the_sdk_sends_it(client, paused_speech):
    strategy = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 200,
                "silence_duration_ms": 800}
    result = transcribe(client, paused_speech, strategy)
    assert normalise(result.text) == normalise(f"{EXPECTED} {EXPECTED}")
    assert abs(result.segments[0].start - LEAD_SECONDS) < 1.0, result.segments


def test_a_bad_server_vad_object_is_a_400_naming_the_field(client, paused_speech):
    with pytest.raises(openai.BadRequestError) as raised:
        transcribe(client, paused_speech, {"type": "server_vad", "threshold": 2})
    assert "threshold" in raised.value.message
