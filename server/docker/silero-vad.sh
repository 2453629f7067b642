#!/usr/bin/env bash
# Run inside server/Dockerfile's build stages: Silero VAD for the image (chunking_strategy), from
# faster-whisper's wheel on the package index, pinned by its SHA-256, converted by the
# whisper-server binary just built.
#
# usage: server/docker/silero-vad.sh WHISPER_SERVER_BINARY OUTPUT
set -euo pipefail
WHEEL_URL=https://files.pythonhosted.org/packages/05/99/49ee85903dee060d9f08297b4a342e5e0bcfca2f027a07b4ee0a38ab13f9/faster_whisper-1.2.1-py3-none-any.whl
WHEEL_SHA256=79a66ad50688c0b794dd501dc340a736992a6342f7f95e5811be60b5224a26a7
server="$1" output="$2"
wheel="$(mktemp -d)/faster_whisper.whl"
"$server" fetch-model --url "$WHEEL_URL" --sha256 "$WHEEL_SHA256" --output "$wheel"
"$server" import-silero-vad --input "$wheel" --output "$output"
rm -rf "$(dirname "$wheel")"
