#!/usr/bin/env bash
# The end-to-end suite on kind: real pods from images built here, the chart's operator pod, a
# Prometheus Operator with its Prometheus, and e2e/tests/kind_user_path.rs driving a user's path.
#
# Usage: e2e/kind/run.sh [test|autoscaling|up|down]
#   test (default)  bring everything up, run the suite, delete the cluster (KEEP=1 keeps it)
#   autoscaling     the same with metrics-server and KEDA installed (e2e/kind/autoscaling/),
#                   running only the autoscaling suite (make test-autoscaling; not in CI)
#   up              bring everything up, install the chart and the sample WhisperService, and
#                   leave it running for a person to look at (make kind-up); prints how to reach it
#   down            delete the cluster (make kind-down)
# Env: KIND_CLUSTER (default whisper-e2e); KIND_OFFLINE and IMAGES_OFFLINE (auto|1|0: build the
# node image and the image bases here instead of pulling; auto detects whether registries are
# reachable, so on a machine with internet this uses kind's and the published images unchanged).
set -euo pipefail
cd "$(dirname "$0")/../.."
WHAT="${1:-test}"
export KIND_CLUSTER="${KIND_CLUSTER:-whisper-e2e}"
DEMO_NS=whisper-demo
# shellcheck source=scripts/lib/host.sh
source scripts/lib/host.sh

log() { echo "kind/run.sh: $(date +%H:%M:%S) $*" >&2; }

case "$WHAT" in
  test|autoscaling|up) ;;
  down) exec e2e/kind/cluster.sh down ;;
  *) echo "usage: e2e/kind/run.sh [test|autoscaling|up|down]" >&2; exit 2 ;;
esac

scripts/install-docker.sh
BIN="$(scripts/fetch-k8s-tools.sh | tail -n 1)"
export PATH="$BIN:$PATH"

t0=$SECONDS
KUBECONFIG_FILE="$(e2e/kind/cluster.sh up | tail -n 1)"
export KUBECONFIG="$KUBECONFIG_FILE"
log "cluster $KIND_CLUSTER up ($((SECONDS - t0)) s); KUBECONFIG=$KUBECONFIG_FILE"

cleanup() {
  if [ "$WHAT" != up ] && [ "${KEEP:-0}" != 1 ]; then
    e2e/kind/cluster.sh down >&2 || true
  fi
}
trap cleanup EXIT

t0=$SECONDS
# A fixed tag of our own: kind load replaces the nodes' copy when the image changed.
export REGISTRY="${REGISTRY:-localhost/whisper-operator}" TAG="${TAG:-kind-e2e}"
mapfile -t images < <(scripts/build-images.sh)
# The same server build under a second tag: the day-two suite changes a WhisperService's image.
ALTERNATE_SERVER_IMAGE="$REGISTRY/whisper-server:$TAG-alternate"
docker tag "$REGISTRY/whisper-server:$TAG" "$ALTERNATE_SERVER_IMAGE"
images+=("$ALTERNATE_SERVER_IMAGE")
MODEL="$(scripts/fetch-model.sh tiny.en | tail -n 1)"
# The day-two suite changes a WhisperService's model from tiny.en to base.
SECOND_MODEL="$(scripts/fetch-model.sh base | tail -n 1)"
MODEL_SERVER_IMAGE="$(e2e/kind/model-server-image.sh "$MODEL" "$SECOND_MODEL")"
images+=("$MODEL_SERVER_IMAGE")
e2e/kind/cluster.sh load "${images[@]}" >&2
log "images built and loaded ($((SECONDS - t0)) s): ${images[*]}"

t0=$SECONDS
e2e/kind/monitoring/install.sh "$KUBECONFIG_FILE" "$KIND_CLUSTER" >&2
# shellcheck source=e2e/kind/monitoring/versions.sh
source e2e/kind/monitoring/versions.sh
log "Prometheus Operator and Prometheus ready ($((SECONDS - t0)) s)"

suites=(--test kind_user_path --test kind_day_two --test kind_model_cache)
if [ "$WHAT" = autoscaling ]; then
  t0=$SECONDS
  e2e/kind/autoscaling/install.sh "$KUBECONFIG_FILE" "$KIND_CLUSTER" >&2
  log "metrics-server and KEDA ready ($((SECONDS - t0)) s)"
  suites=(--test kind_autoscaling)
fi

if [ "$WHAT" != up ]; then
  t0=$SECONDS
  # --workspace, not -p whisper-e2e: the same feature set as make test's other cargo runs, so
  # nothing is compiled again.
  WHISPER_E2E_KUBECONFIG="$KUBECONFIG_FILE" WHISPER_E2E_MODE=kind \
  WHISPER_E2E_OPERATOR_IMAGE="$REGISTRY/whisper-operator" \
  WHISPER_E2E_SERVER_IMAGE="$REGISTRY/whisper-server" \
  WHISPER_E2E_IMAGE_TAG="$TAG" \
  WHISPER_E2E_SERVER_IMAGE_ALTERNATE="$ALTERNATE_SERVER_IMAGE" \
  WHISPER_E2E_MODEL_SERVER_IMAGE="$MODEL_SERVER_IMAGE" \
  WHISPER_E2E_MODEL_FILE="$MODEL" \
  WHISPER_E2E_MODEL_SHA256="$(sha256_hex "$MODEL")" \
  WHISPER_E2E_SECOND_MODEL_FILE="$SECOND_MODEL" \
  WHISPER_E2E_SECOND_MODEL_SHA256="$(sha256_hex "$SECOND_MODEL")" \
  WHISPER_E2E_PROMETHEUS_NAMESPACE="$MONITORING_NAMESPACE" \
  WHISPER_E2E_PROMETHEUS_SERVICE="$PROMETHEUS_SERVICE" \
  WHISPER_E2E_MONITORING_SELECTOR="$MONITORING_SELECTOR_KEY=$MONITORING_SELECTOR_VALUE" \
    cargo test --workspace "${suites[@]}" --no-fail-fast -- --ignored --nocapture
  log "suite passed ($((SECONDS - t0)) s)"
  exit 0
fi

# up: the chart, a model mirror and the shipped sample, as a user would have them.
kubectl create namespace "$DEMO_NS" --dry-run=client -o yaml |
  kubectl label --local -f - -o yaml pod-security.kubernetes.io/enforce=restricted |
  kubectl apply -f - >&2
sed "s|MODEL_SERVER_IMAGE|$MODEL_SERVER_IMAGE|" e2e/kind/model-server.yaml | kubectl -n "$DEMO_NS" apply -f - >&2
kubectl -n "$DEMO_NS" rollout status deploy/model-server --timeout=120s >&2
catalogue="{\"tiny.en\":{\"url\":\"http://model-server.$DEMO_NS.svc:8080/$(basename "$MODEL")\",\"sha256\":\"$(sha256_hex "$MODEL")\"}}"
helm upgrade --install whisper-operator charts/whisper-operator -n "$DEMO_NS" --wait --timeout 4m \
  --set image.repository="$REGISTRY/whisper-operator" --set image.tag="$TAG" \
  --set operator.serverImage="$REGISTRY/whisper-server:$TAG" \
  --set-json "operator.modelCatalogue=$catalogue" >&2
key="$MONITORING_SELECTOR_KEY" value="$MONITORING_SELECTOR_VALUE"
# The sample as shipped, but on one thread (the kind nodes share this machine's cores) and with
# the label this cluster's Prometheus selects monitoring objects by.
kubectl -n "$DEMO_NS" apply -f - >&2 <<EOF
$(sed -e 's/^    threads: 2$/    threads: 1/' e2e/samples/whisperservice-cpu-tiny.yaml)
  monitoring:
    serviceMonitor: {labels: {$key: "$value"}}
    alerts: {labels: {$key: "$value"}}
EOF
kubectl -n "$DEMO_NS" wait ws/whisper-tiny --for=condition=Ready --timeout=300s >&2
kubectl -n "$DEMO_NS" get ws -o wide >&2
cat >&2 <<EOF

The stack is up (cluster $KIND_CLUSTER). To look at it:
  export KUBECONFIG=$KUBECONFIG_FILE PATH=$BIN:\$PATH
  kubectl -n $DEMO_NS port-forward service/whisper-tiny 8000:8000
  curl -F file=@speech.wav -F model=whisper-1 http://127.0.0.1:8000/v1/audio/transcriptions
  kubectl -n $MONITORING_NAMESPACE port-forward service/$PROMETHEUS_SERVICE 9090:9090
  open http://127.0.0.1:9090/targets
Remove it all with: make kind-down
EOF
trap - EXIT
