#!/usr/bin/env bash
# Proves the local control plane does what the e2e suite relies on, against the real processes:
# scheduling on fake nodes (GPU and CPU), controllers (Deployment, garbage collection),
# admission (PodSecurity, CRD schemas), RBAC with ServiceAccount tokens, the monitoring CRD
# switch, bad input to cluster.sh, and a clean `down`. Brings a cluster up and down itself
# (in its own state dir and ports, so it never touches a cluster someone else runs).
# Ends with "N passed, N failed"; exits non-zero when anything failed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER="$HERE/../cluster.sh"
own_dir=""
if [[ -z "${WHISPER_CLUSTER_DIR:-}" ]]; then
  own_dir="$(mktemp -d /tmp/whisper-smoke.XXXXXX)"
  export WHISPER_CLUSTER_DIR="$own_dir"
fi
export WHISPER_PORT_BASE="${WHISPER_PORT_BASE:-24790}"
KUBECTL="$("$HERE/../../scripts/fetch-k8s-tools.sh")/kubectl"
passed=0
failed=0
NS=smoke

say() { echo "[smoke] $*" >&2; }
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# check NAME COMMAND...: runs COMMAND, counts the result.
check() {
  local name="$1"
  shift
  if "$@" >"$WHISPER_CLUSTER_DIR/check.out" 2>&1; then
    passed=$((passed + 1))
    say "PASS $name"
  else
    failed=$((failed + 1))
    say "FAIL $name"
    sed 's/^/    /' "$WHISPER_CLUSTER_DIR/check.out" >&2
  fi
}

# eventually SECONDS COMMAND...: retries until COMMAND succeeds.
eventually() {
  local secs="$1" i
  shift
  for ((i = 0; i < secs * 2; i++)); do
    "$@" && return 0
    sleep 0.5
  done
  "$@"
}

fails() { ! "$@"; }

cleanup() {
  "$CLUSTER" down >/dev/null 2>&1 || true
  if [[ -n "$own_dir" ]]; then rm -rf "$own_dir"; fi
}
trap cleanup EXIT

# --- checks --------------------------------------------------------------------------------

nodes_ready() {
  [[ "$(kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)" == 4 ]]
}

gpu_capacity_only_on_gpu_nodes() {
  local got
  got="$(kc get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.allocatable.nvidia\.com/gpu}{" "}{end}')"
  echo "$got"
  [[ "$got" == "kwok-cpu-0= kwok-cpu-1= kwok-gpu-0=2 kwok-gpu-1=2 " ]]
}

gpu_nodes_tainted_and_labelled() {
  local got
  got="$(kc get nodes -l nvidia.com/gpu.present=true -o jsonpath='{range .items[*]}{.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect} {end}')"
  echo "$got"
  [[ "$got" == "nvidia.com/gpu=present:NoSchedule nvidia.com/gpu=present:NoSchedule " ]]
}

deployment_pods_running() {
  kc -n "$NS" create deployment web --image=registry.invalid/none:1 --replicas=2
  eventually 60 bash -c "[[ \$('$KUBECTL' --kubeconfig '$KUBECONFIG_PATH' -n $NS get deploy web -o jsonpath='{.status.readyReplicas}') == 2 ]]"
  kc -n "$NS" get pods -l app=web -o wide
  [[ "$(kc -n "$NS" get pods -l app=web -o jsonpath='{range .items[*]}{.status.phase}/{.spec.nodeName} {end}')" =~ ^Running/kwok-cpu-[01]\ Running/kwok-cpu-[01]\ $ ]]
}

pod() { # NAME GPUS [extra container fields as JSON]
  cat <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1"},
 "spec":{"containers":[{"name":"c","image":"registry.invalid/none:1",
   "resources":{"limits":{"nvidia.com/gpu":"$2"}}}]}}
EOF
}

gpu_pod_lands_on_gpu_node() {
  pod gpu-one 1 | kc -n "$NS" apply -f -
  eventually 60 bash -c "[[ \$('$KUBECTL' --kubeconfig '$KUBECONFIG_PATH' -n $NS get pod gpu-one -o jsonpath='{.status.phase}') == Running ]]"
  local node
  node="$(kc -n "$NS" get pod gpu-one -o jsonpath='{.spec.nodeName}')"
  echo "gpu-one on $node"
  [[ "$node" == kwok-gpu-* ]]
}

too_many_gpus_pending() {
  pod gpu-hundred 100 | kc -n "$NS" apply -f -
  eventually 60 bash -c "'$KUBECTL' --kubeconfig '$KUBECONFIG_PATH' -n $NS get events --field-selector involvedObject.name=gpu-hundred,reason=FailedScheduling -o name | grep -q ."
  kc -n "$NS" get events --field-selector involvedObject.name=gpu-hundred -o custom-columns=REASON:.reason,MSG:.message
  [[ "$(kc -n "$NS" get pod gpu-hundred -o jsonpath='{.status.phase}/{.spec.nodeName}')" == "Pending/" ]]
}

garbage_collection() {
  kc -n "$NS" create configmap owner
  local uid
  uid="$(kc -n "$NS" get configmap owner -o jsonpath='{.metadata.uid}')"
  kc -n "$NS" apply -f - <<EOF
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dependent",
 "ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"$uid"}]}}
EOF
  kc -n "$NS" delete configmap owner
  eventually 60 fails kc -n "$NS" get configmap dependent
}

deployment_delete_cascades() {
  kc -n "$NS" delete deployment web
  eventually 60 bash -c "[[ -z \$('$KUBECTL' --kubeconfig '$KUBECONFIG_PATH' -n $NS get rs,pods -l app=web -o name) ]]"
}

servicemonitor_accepted() {
  kc -n "$NS" apply -f - <<EOF
{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"sm"},
 "spec":{"selector":{"matchLabels":{"app":"web"}},"endpoints":[{"port":"http","interval":"15s"}]}}
EOF
}

servicemonitor_schema_enforced() {
  ! kc -n "$NS" apply -f - <<EOF
{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"bad"},
 "spec":{"selector":{},"endpoints":"not-a-list"}}
EOF
}

prometheusrule_accepted() {
  kc -n "$NS" apply -f - <<EOF
{"apiVersion":"monitoring.coreos.com/v1","kind":"PrometheusRule","metadata":{"name":"pr"},
 "spec":{"groups":[{"name":"g","rules":[{"alert":"A","expr":"up == 0","for":"5m"}]}]}}
EOF
}

restricted_namespace_rejects_privileged() {
  kc create namespace locked
  kc label namespace locked pod-security.kubernetes.io/enforce=restricted
  local out
  if out="$(kc -n locked apply -f - 2>&1 <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"priv"},
 "spec":{"containers":[{"name":"c","image":"registry.invalid/none:1","securityContext":{"privileged":true}}]}}
EOF
  )"; then
    echo "privileged pod was admitted: $out"
    return 1
  fi
  echo "$out"
  grep -q 'violates PodSecurity "restricted' <<<"$out"
}

restricted_namespace_admits_compliant_pod() {
  kc -n locked apply -f - <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ok"},
 "spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"c","image":"registry.invalid/none:1","securityContext":{
    "allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsUser":1000}}]}}
EOF
}

serviceaccount_token_rbac() {
  kc -n "$NS" create serviceaccount reader
  local token server ca as_reader
  token="$(kc -n "$NS" create token reader --duration=10m)"
  server="$(kc config view --raw -o jsonpath='{.clusters[0].cluster.server}')"
  ca="$WHISPER_CLUSTER_DIR/ca.crt"
  kc config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$ca"
  as_reader=("$KUBECTL" --kubeconfig=/dev/null --server="$server" --certificate-authority="$ca" --token="$token")
  if "${as_reader[@]}" -n "$NS" get configmaps 2>"$WHISPER_CLUSTER_DIR/denied.err"; then
    echo "reader could list configmaps before any RoleBinding"
    return 1
  fi
  grep -q 'Forbidden' "$WHISPER_CLUSTER_DIR/denied.err"
  cat "$WHISPER_CLUSTER_DIR/denied.err"
  kc -n "$NS" create role cm-reader --verb=get,list --resource=configmaps
  kc -n "$NS" create rolebinding reader-cm --role=cm-reader --serviceaccount="$NS:reader"
  eventually 10 "${as_reader[@]}" -n "$NS" get configmaps
  # Still denied outside what the Role grants.
  ! "${as_reader[@]}" -n "$NS" get secrets
}

monitoring_crds_switch() {
  "$CLUSTER" up --no-monitoring-crds >/dev/null
  if kc get crd servicemonitors.monitoring.coreos.com 2>/dev/null; then return 1; fi
  "$CLUSTER" install-monitoring-crds
  kc get crd servicemonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com
}

bad_input_rejected() {
  ! "$CLUSTER" up --bogus-flag && ! "$CLUSTER" frobnicate
}

crd_commands_need_a_cluster() {
  ! "$CLUSTER" install-monitoring-crds && ! "$CLUSTER" status
}

nothing_left_running() {
  "$CLUSTER" down
  "$CLUSTER" down # idempotent
  local left
  left="$(pgrep -af -- "$WHISPER_CLUSTER_DIR/" || true)"
  echo "$left"
  [[ -z "$left" ]]
}

# --- run -----------------------------------------------------------------------------------

start=$SECONDS
KUBECONFIG_PATH="$("$CLUSTER" up | tail -n1)"
say "up took $((SECONDS - start))s; kubeconfig $KUBECONFIG_PATH"
kc create namespace "$NS" >/dev/null
eventually 30 kc -n "$NS" get serviceaccount default >/dev/null

check "kubeconfig path is absolute and readable" test -r "$KUBECONFIG_PATH" -a "${KUBECONFIG_PATH:0:1}" = /
check "four kwok nodes are Ready" nodes_ready
check "nvidia.com/gpu allocatable only on GPU nodes" gpu_capacity_only_on_gpu_nodes
check "GPU nodes carry the nvidia.com/gpu taint and label" gpu_nodes_tainted_and_labelled
check "a 2-replica Deployment gets 2 Running pods on CPU nodes" deployment_pods_running
check "a pod asking for a GPU runs on a GPU node" gpu_pod_lands_on_gpu_node
check "a pod asking for 100 GPUs stays Pending with FailedScheduling" too_many_gpus_pending
check "deleting an owner deletes its dependent (GC)" garbage_collection
check "deleting a Deployment deletes its ReplicaSets and pods" deployment_delete_cascades
check "a ServiceMonitor is accepted" servicemonitor_accepted
check "a ServiceMonitor breaking the real schema is rejected" servicemonitor_schema_enforced
check "a PrometheusRule is accepted" prometheusrule_accepted
check "PodSecurity restricted rejects a privileged pod" restricted_namespace_rejects_privileged
check "PodSecurity restricted admits a compliant pod" restricted_namespace_admits_compliant_pod
check "a ServiceAccount token is denied, then allowed by RBAC" serviceaccount_token_rbac
check "up --no-monitoring-crds removes them; install-monitoring-crds adds them" monitoring_crds_switch
check "cluster.sh rejects unknown commands and flags" bad_input_rejected
check "down leaves no process running" nothing_left_running
check "CRD commands and status fail without a cluster" crd_commands_need_a_cluster

echo "smoke: $passed passed, $failed failed"
((failed == 0))
