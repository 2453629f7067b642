#!/usr/bin/env bash
# The end-to-end suite on kind: real pods, a real transcription through the Service, a scrape of
# the server's /metrics. Needs Linux with Docker (BuildKit), kind, go (for the Prometheus
# Operator CRDs; curl from GitHub otherwise) and a Rust toolchain; helm and kubectl come from
# scripts/fetch-k8s-tools.sh. Cannot run on the project's development machines (no Docker).
#
# Usage: e2e/kind/run.sh [--keep]     (--keep leaves the cluster up afterwards)
# Env: KIND_CLUSTER (default whisper-e2e), KIND_NODE_IMAGE (default: kind's own default),
#      PROM_OPERATOR_VERSION (default: the one e2e/cluster/versions.sh pins).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

keep=false
for arg in "$@"; do
  case "$arg" in
    --keep) keep=true ;;
    *) echo "run.sh: unknown argument '$arg' (use --keep)" >&2; exit 2 ;;
  esac
done

log() { echo "kind/run.sh: $*" >&2; }
for tool in docker kind cargo; do
  command -v "$tool" >/dev/null || { log "$tool not found"; exit 1; }
done

BIN="$(scripts/fetch-k8s-tools.sh | tail -n 1)"
export PATH="$BIN:$PATH"
CLUSTER="${KIND_CLUSTER:-whisper-e2e}"
# shellcheck source=../cluster/versions.sh
[ -f e2e/cluster/versions.sh ] && source e2e/cluster/versions.sh
PROM_OPERATOR_VERSION="${PROM_OPERATOR_VERSION:-v0.85.0}"
# A tag of our own, so kind never confuses these images with published ones.
export REGISTRY="${REGISTRY:-localhost/whisper-operator}"
export TAG="${TAG:-e2e-$(date +%s)}"

KUBECONFIG_FILE="$(mktemp -t whisper-kind-kubeconfig.XXXXXX)"
cleanup() {
  if $keep; then
    log "cluster $CLUSTER left up; KUBECONFIG=$KUBECONFIG_FILE"
  else
    kind delete cluster --name "$CLUSTER" >&2 || true
    rm -f "$KUBECONFIG_FILE"
  fi
}
trap cleanup EXIT

log "creating kind cluster $CLUSTER"
kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
kind create cluster --name "$CLUSTER" --config e2e/kind/cluster.yaml --kubeconfig "$KUBECONFIG_FILE" \
  ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 180s >&2

log "building images ($REGISTRY/*:$TAG)"
mapfile -t images < <(scripts/build-images.sh)
for image in "${images[@]}"; do
  log "loading $image into the nodes"
  kind load docker-image --name "$CLUSTER" "$image" >&2
done

log "installing the Prometheus Operator CRDs ($PROM_OPERATOR_VERSION)"
crds=()
if command -v go >/dev/null; then
  dir="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  for kind in servicemonitors prometheusrules; do
    crds+=(-f "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml")
  done
else
  for kind in servicemonitors prometheusrules; do
    crds+=(-f "https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/$PROM_OPERATOR_VERSION/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml")
  done
fi
KUBECONFIG="$KUBECONFIG_FILE" kubectl apply --server-side "${crds[@]}" >&2
KUBECONFIG="$KUBECONFIG_FILE" kubectl wait --for condition=Established --timeout=60s \
  crd/servicemonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com >&2

log "running the suite (WHISPER_E2E_MODE=kind)"
WHISPER_E2E_KUBECONFIG="$KUBECONFIG_FILE" WHISPER_E2E_MODE=kind \
WHISPER_E2E_OPERATOR_IMAGE="$REGISTRY/whisper-operator" \
WHISPER_E2E_SERVER_IMAGE="$REGISTRY/whisper-server" \
WHISPER_E2E_IMAGE_TAG="$TAG" \
  cargo test -p whisper-e2e --test user_path -- --ignored --nocapture
log "passed"
