#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets (docs/fuzzing.md) into DIR/<target>/
# (default: server/fuzz/corpus, ignored by git). Seeds: short speech-like audio in every
# container the server decodes (sox + ffmpeg, as server/tests/api/fixtures.rs makes them),
# transcription forms, a synthetic ggml model and the head of the real tiny.en model if it is
# cached, and the synthetic CTranslate2 model of server/tests/model/ct2_fixture.rs (committed
# under seeds/). Existing corpus files are kept: the corpora grow across runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/corpus}"
model="${WHISPER_TINY_EN:-$HOME/.cache/whisper-operator/models/ggml-tiny.en.bin}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

mkdir -p "$out"/{audio_decode,multipart_form,ggml_model,ct2_model}

# --- audio_decode: a quarter second of a vowel-like tone, in each container and codec.
audio="$out/audio_decode"
if command -v sox >/dev/null; then
    sox -n -r 16000 -c 1 -b 16 "$scratch/tone.wav" synth 0.25 sine 220 sine 660 remix - gain -6
    cp "$scratch/tone.wav" "$audio/tone-16k-mono.wav"
    sox "$scratch/tone.wav" -r 8000 -c 2 -b 8 "$audio/tone-8k-stereo-u8.wav"
    sox "$scratch/tone.wav" -r 44100 -b 24 "$audio/tone-44k1-s24.wav" trim 0 0.1
    sox "$scratch/tone.wav" -e floating-point -b 32 "$audio/tone-f32.wav"
    sox "$scratch/tone.wav" -t flac "$audio/tone.flac"
else
    echo "seed-corpus: sox not found; audio seeds limited" >&2
fi
if command -v ffmpeg >/dev/null && [[ -f $scratch/tone.wav ]]; then
    ff() { ffmpeg -v error -y -i "$scratch/tone.wav" "$@"; }
    ff -c:a libmp3lame -b:a 32k -f mp3 "$audio/tone.mp3"
    ff -c:a libvorbis -f ogg "$audio/tone.ogg"
    ff -c:a aac -b:a 32k -f mp4 "$audio/tone.m4a"
    ff -c:a libvorbis -f matroska "$audio/tone.mkv"
    ff -c:a libopus -f ogg "$audio/tone.opus" || true  # a codec the server refuses
fi

# --- multipart_form: the first byte picks the boundary ("fuzz" for 0), the rest is the body.
form="$out/multipart_form"
part() { printf -- '--fuzz\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' "$1" "$2"; }
file_part() {
    printf -- '--fuzz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
    printf 'Content-Type: audio/wav\r\n\r\n'
    head -c 256 "$audio/tone-16k-mono.wav" 2>/dev/null || printf 'RIFF....WAVEfmt '
    printf '\r\n'
}
{ printf '\0'; file_part; printf -- '--fuzz--\r\n'; } >"$form/file-only"
{
    printf '\0'
    part model whisper-1
    part language en
    part prompt 'Hello there.'
    part response_format verbose_json
    part temperature 0.2
    part beam_size 5
    part 'timestamp_granularities[]' word
    file_part
    printf -- '--fuzz--\r\n'
} >"$form/all-fields"
{ printf '\0'; part response_format srt; printf -- '--fuzz--\r\n'; } >"$form/no-file"
{ printf '\0'; file_part; } >"$form/no-closing-boundary"

# --- ggml_model: a synthetic f16 file (header, mel filters, vocabulary, two tensors) and, if
# the real tiny.en model is cached, its first 64 KiB (hyper-parameters and mel filters).
python3 - "$out/ggml_model/synthetic-f16.bin" <<'PY'
import struct, sys
i32 = lambda *v: struct.pack(f"<{len(v)}i", *v)
# n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
# n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels; then the ftype (1: f16).
out = struct.pack("<I", 0x67676D6C) + i32(3, 6, 4, 1, 1, 5, 4, 1, 1, 2) + i32(1)
out += i32(2, 3) + struct.pack("<6f", *[0.25] * 6)
vocab = [b"a", b" b", b"\xc3\xa9"]
out += i32(len(vocab)) + b"".join(i32(len(t)) + t for t in vocab)
def tensor(name, shape, ttype, size):
    head = i32(len(shape), len(name), ttype) + i32(*reversed(shape)) + name
    return head + bytes(i % 251 for i in range(size))
out += tensor(b"encoder.conv1.weight", [4, 2, 3], 1, 2 * 24)
out += tensor(b"decoder.token_embedding.weight", [3, 32], 1, 2 * 96)
out += tensor(b"encoder.conv1.bias", [4, 1], 0, 4 * 4)
open(sys.argv[1], "wb").write(out)
PY
if [[ -f $model ]]; then
    head -c 65536 "$model" >"$out/ggml_model/tiny-en-head-64k.bin"
fi

# --- ct2_model: the synthetic model of server/tests/model/ct2_fixture.rs.
cp "$here"/seeds/ct2_model/* "$out/ct2_model/"

for target in audio_decode multipart_form ggml_model ct2_model; do
    echo "seed-corpus: $target: $(find "$out/$target" -type f | wc -l) files in $out/$target"
done
