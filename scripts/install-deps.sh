#!/usr/bin/env bash
# Installs every system and Python package the build, the tests and the benchmarks need.
# Idempotent: a warm machine skips what is already there. Caches live outside the clone.
set -euo pipefail

CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
mkdir -p "$CACHE"

# Debian packages: whisper.cpp build (cmake, libclang), test speech (flite, sox, ffmpeg for
# MP3/Ogg/M4A fixtures; asterisk-moh-opsound-wav for music without words), Prometheus +
# promtool, load tools, openssl for the control plane's certs, headless Chromium and its
# WebDriver for the page's test.
APT_PKGS=(cmake clang libclang-dev pkg-config flite sox ffmpeg asterisk-moh-opsound-wav prometheus openssl jq curl unzip procps util-linux shellcheck chromium chromium-driver)
# shellcheck source=scripts/lib/host.sh
. "$(dirname "$0")/lib/host.sh"
ensure_debs "${APT_PKGS[@]}"
# The Debian prometheus package starts a system service; tests run their own on loopback.
if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus 2>/dev/null || true; fi
pkill -u prometheus -x prometheus 2>/dev/null || true # the service's user only, not a Prometheus of your own

# Python: real clients and side-by-side baselines, in a venv outside the clone.
VENV="$CACHE/venv-py1"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# selenium 4.52 wants a certifi newer than the package index has.
PY_PKGS=(pytest==8.3.5 openai==1.109.1 faster-whisper==1.2.1 requests==2.32.3 pyyaml==6.0.2 kubernetes-validate==1.34.1 selenium==4.51.0)
stamp="$VENV/.installed-$(printf '%s\n' "${PY_PKGS[@]}" | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q "${PY_PKGS[@]}"
  touch "$stamp"
fi
# faster-whisper's wheel as the index serves it: the VAD importer's test reads Silero from it.
FW_WHEEL="$CACHE/downloads/faster_whisper-1.2.1-py3-none-any.whl"
if [ ! -f "$FW_WHEEL" ]; then
  "$VENV/bin/pip" download -q --no-deps --only-binary=:all: faster-whisper==1.2.1 -d "$CACHE/downloads"
fi
echo "install-deps: ok (venv $VENV)"
