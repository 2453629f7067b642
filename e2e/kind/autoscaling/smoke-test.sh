#!/usr/bin/env bash
# Checks an installed autoscaling stack (install.sh) on the live cluster:
#   1. metrics-server: `kubectl top nodes` and `kubectl top pods -A` print CPU and memory figures;
#   2. KEDA: in a throwaway namespace (restricted Pod Security Standard), a ScaledObject with a
#      `prometheus` trigger (the Prometheus of e2e/kind/monitoring/install.sh, query vector(3),
#      threshold 1) scales a one-replica Deployment to 3 ready replicas through the HPA that
#      KEDA creates, the external metrics API serves the trigger's value, and the operator
#      polls at the ScaledObject's own pollingInterval (5 s here, not the 30 s default: the
#      status' lastActiveTime, which every poll of an active ScaledObject renews, moves in
#      steps of about 5 s); then the namespace is deleted.
#
# Usage: e2e/kind/autoscaling/smoke-test.sh KUBECONFIG [--keep]   (--keep leaves the namespace)
# Env: SMOKE_IMAGE: the Deployment's image; it must already be on the nodes (nothing is pulled)
#      and serve forever as a non-root user. Default: the newest local
#      localhost/whisper-e2e/model-server image (e2e/kind/model-server-image.sh, a busybox httpd
#      that e2e/kind/run.sh loads into the cluster).
#      SMOKE_NAMESPACE (default autoscaling-smoke).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=versions.sh
source "$HERE/versions.sh"
# shellcheck source=../monitoring/versions.sh
source "$HERE/../monitoring/versions.sh"
# shellcheck source=../../../scripts/lib/host.sh
source "$ROOT/scripts/lib/host.sh"

[[ $# -ge 1 ]] || { echo "usage: $0 KUBECONFIG [--keep]" >&2; exit 2; }
export KUBECONFIG="$1"
keep="${2:-}"
ns="${SMOKE_NAMESPACE:-autoscaling-smoke}"
t0=$SECONDS
log() { echo "autoscaling/smoke-test: $(date +%H:%M:%S) $*" >&2; }
die() {
  log "FAILED: $*"
  kubectl -n "$ns" get scaledobject,hpa,deploy,pods -o wide >&2 || true
  kubectl -n "$ns" describe hpa >&2 || true
  kubectl -n "$ns" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20 >&2 || true
  kubectl -n "$KEDA_NAMESPACE" logs deploy/keda-operator --tail=30 >&2 || true
  exit 1
}
ensure_debs jq python3-pip unzip
PATH="$("$ROOT/scripts/fetch-k8s-tools.sh" | tail -n1):$PATH"

cleanup() {
  [[ "$keep" == --keep ]] && return
  # The ScaledObject first, so KEDA removes its HPA (and its finalizer) while the operator can.
  kubectl -n "$ns" delete scaledobject --all --ignore-not-found --timeout=60s >/dev/null 2>&1 || true
  kubectl delete namespace "$ns" --ignore-not-found --timeout=120s >/dev/null 2>&1 || true
}
trap cleanup EXIT

# eventually SECONDS DESCRIPTION CMD...: retries CMD every 2 s.
eventually() {
  local secs="$1" what="$2" deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || die "$what (not after $secs s)"
    sleep 2
  done
  log "ok: $what ($((SECONDS - t0)) s)"
}

# --- 1. metrics-server ----------------------------------------------------------------------
# CPU like 12m and memory like 34Mi in every row, and at least one row.
figures() {
  awk 'NF { n++; if ($(NF-1) !~ /^[0-9]+m$/ || $NF !~ /^[0-9]+Mi$/) bad++ }
       END { exit !(n > 0 && bad == 0) }'
}
top_nodes() { kubectl top nodes --no-headers 2>/dev/null | awk '{print $1, $2, $4}' | figures; }
top_pods() { kubectl top pods -A --no-headers 2>/dev/null | figures; }
eventually 60 "kubectl top nodes shows CPU and memory of every node" top_nodes
eventually 60 "kubectl top pods -A shows CPU and memory" top_pods
kubectl top nodes >&2
kubectl top pods -A --sort-by=cpu | awk "NR <= 8" >&2  # awk reads it all: head would SIGPIPE kubectl

# --- 2. KEDA --------------------------------------------------------------------------------
kubectl -n "$MONITORING_NAMESPACE" get service "$PROMETHEUS_SERVICE" >/dev/null 2>&1 ||
  die "no Service $MONITORING_NAMESPACE/$PROMETHEUS_SERVICE: run e2e/kind/monitoring/install.sh first"
image="${SMOKE_IMAGE:-$(docker images --format '{{.Repository}}:{{.Tag}}' localhost/whisper-e2e/model-server 2>/dev/null | head -n1)}"
[[ -n "$image" ]] || die "no SMOKE_IMAGE and no local localhost/whisper-e2e/model-server image"
log "Deployment image $image"

kubectl create namespace "$ns" --dry-run=client -o yaml |
  kubectl label --local -f - -o yaml pod-security.kubernetes.io/enforce=restricted |
  kubectl apply -f - >/dev/null
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: smoke
spec:
  replicas: 1
  selector:
    matchLabels: {app: smoke}
  template:
    metadata:
      labels: {app: smoke}
    spec:
      automountServiceAccountToken: false
      # busybox httpd runs as PID 1 and ignores SIGTERM: without this, deleting the namespace
      # waits the default 30 s for each pod.
      terminationGracePeriodSeconds: 1
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: httpd
          image: $image
          imagePullPolicy: IfNotPresent
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            tcpSocket: {port: http}
            periodSeconds: 1
          resources:
            requests: {cpu: 5m, memory: 8Mi}
            limits: {memory: 32Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
EOF
kubectl -n "$ns" rollout status deploy/smoke --timeout=120s >&2 || die "the Deployment did not roll out"
log "Deployment smoke: 1 replica ready ($((SECONDS - t0)) s)"

t_so=$SECONDS
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: smoke
spec:
  scaleTargetRef:
    name: smoke
  pollingInterval: 5
  cooldownPeriod: 30
  minReplicaCount: 1
  maxReplicaCount: 3
  triggers:
    - type: prometheus
      metadata:
        serverAddress: http://$PROMETHEUS_SERVICE.$MONITORING_NAMESPACE.svc:9090
        query: vector(3)
        threshold: "1"
EOF

so_ready() {
  [[ "$(kubectl -n "$ns" get scaledobject smoke -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
so_active() {
  [[ "$(kubectl -n "$ns" get scaledobject smoke -o jsonpath='{.status.conditions[?(@.type=="Active")].status}')" == True ]]
}
hpa_exists() { kubectl -n "$ns" get hpa keda-hpa-smoke >/dev/null 2>&1; }
three_ready() {
  [[ "$(kubectl -n "$ns" get deploy smoke -o jsonpath='{.spec.replicas}/{.status.readyReplicas}')" == 3/3 ]]
}
eventually 60 "ScaledObject smoke Ready" so_ready
eventually 60 "KEDA created HPA keda-hpa-smoke" hpa_exists
eventually 60 "ScaledObject smoke Active (vector(3) > activation threshold 0)" so_active

# The external metric the HPA reads, straight from the external metrics API.
metric="$(kubectl -n "$ns" get hpa keda-hpa-smoke -o jsonpath='{.spec.metrics[0].external.metric.name}')"
selector="$(kubectl -n "$ns" get hpa keda-hpa-smoke -o jsonpath='{.spec.metrics[0].external.metric.selector.matchLabels}' |
  jq -r 'to_entries | map("\(.key)=\(.value)") | join(",")')"
value="$(kubectl get --raw "/apis/external.metrics.k8s.io/v1beta1/namespaces/$ns/$metric?labelSelector=$selector" |
  jq -r '.items[0].value')"
log "external metric $metric{$selector} = $value"
[[ "$value" == 3 ]] || die "external metric $metric is $value, expected 3"

eventually 120 "Deployment smoke scaled from 1 to 3 ready replicas" three_ready
log "scale-up took $((SECONDS - t_so)) s from applying the ScaledObject"
kubectl -n "$ns" get scaledobject,hpa,deploy -o wide >&2

# pollingInterval: lastActiveTime (RFC 3339, whole seconds) is renewed by every poll while the
# ScaledObject is active and its target has replicas. Watch it for 25 s: at the 30 s default it
# would change at most once.
declare -a seen=()
deadline=$((SECONDS + 25))
while ((SECONDS < deadline)); do
  at="$(kubectl -n "$ns" get scaledobject smoke -o jsonpath='{.status.lastActiveTime}')"
  if [[ -n "$at" && ( ${#seen[@]} -eq 0 || "${seen[-1]}" != "$at" ) ]]; then seen+=("$at"); fi
  sleep 0.5
done
gaps="$(printf '%s\n' "${seen[@]}" | while read -r at; do date -d "$at" +%s; done |
  awk 'NR > 1 { printf "%s%d", sep, $1 - prev; sep = " " } { prev = $1 }')"
log "lastActiveTime values: ${seen[*]}; gaps (s): $gaps"
# 4 or more renewals in 25 s, each 4-7 s apart (5 s plus the time a poll takes).
awk -v gaps="$gaps" 'BEGIN { n = split(gaps, g, " "); if (n < 3) exit 1
  for (i = 1; i <= n; i++) if (g[i] < 4 || g[i] > 7) exit 1 }' ||
  die "the operator does not poll every pollingInterval (5 s): gaps $gaps"
log "ok: the operator polls at the ScaledObject's pollingInterval (5 s)"

log "passed ($((SECONDS - t0)) s); deleting namespace $ns"
cleanup
trap - EXIT
log "namespace $ns deleted ($((SECONDS - t0)) s)"
