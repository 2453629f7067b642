#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A local Kubernetes control plane for the end-to-end tests: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (fake kubelets), all built from the Go module
# proxy and run as plain processes on 127.0.0.1. See e2e/README.md.
#
#   e2e/cluster.sh build                    build the binaries once (cached outside the repo)
#   e2e/cluster.sh up [--no-monitoring-crds]
#                                           start (or reuse) a cluster; last stdout line = kubeconfig
#   e2e/cluster.sh down                     stop everything it started (idempotent)
#   e2e/cluster.sh status                   say whether it runs; exit 1 when it does not
#   e2e/cluster.sh install-monitoring-crds  add ServiceMonitor / PrometheusRule CRDs to a running cluster
#   e2e/cluster.sh remove-monitoring-crds   take them out again
#
# Environment: WHISPER_CLUSTER_DIR (state dir), WHISPER_PORT_BASE (first port tried, default 23790),
# WHISPER_ETCD_PORT, WHISPER_ETCD_PEER_PORT, WHISPER_APISERVER_PORT, WHISPER_KCM_PORT,
# WHISPER_SCHEDULER_PORT, WHISPER_KWOK_PORT (fixed ports), WHISPER_CPU_NODES (2),
# WHISPER_GPU_NODES (2), WHISPER_GPUS_PER_NODE (2), and the versions in e2e/cluster/versions.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
source "$HERE/cluster/versions.sh"
source "$HERE/cluster/pki.sh"
source "$HERE/cluster/procs.sh"
source "$HERE/cluster/nodes.sh"
# shellcheck source=../scripts/lib/kube.sh
source "$REPO/scripts/lib/kube.sh"

STATE="$(realpath -m "${WHISPER_CLUSTER_DIR:-$WHISPER_OPERATOR_CACHE/cluster-state}")"
KUBECONFIG_PATH="$STATE/admin.kubeconfig"
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
# Pod IPs kwok writes into pod status; nothing listens on or routes to them.
POD_CIDR=10.244.0.1/16
MONITORING_CRDS=(servicemonitors prometheusrules)

log() { echo "[cluster] $(date +%H:%M:%S) $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

kubectl_bin() {
  local bin
  bin="$("$REPO/scripts/fetch-k8s-tools.sh")" || die "could not install kubectl (scripts/fetch-k8s-tools.sh)"
  echo "$bin/kubectl"
}

kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# The first `up` on a machine builds (many minutes); later ones find the cache.
need_binaries() {
  [[ -f "$K8S_BIN_DIR/.complete" ]] && return 0
  log "binaries not built yet; building into $K8S_BIN_DIR (cold: about 6 minutes on 2 cores)"
  "$HERE/cluster/build.sh" >&2 || die "build failed"
}

# One command at a time per state dir: parallel test processes may all call `up`.
lock_state() {
  mkdir -p "$(dirname "$STATE")"
  exec 9>"$STATE.lock"
  flock -w 900 9 || die "another cluster.sh holds $STATE.lock"
}

# --- monitoring CRDs -----------------------------------------------------------------------

# The real CRDs, as the prometheus-operator module ships them (build.sh copies them to a cache).
crd_dir() {
  [[ -d "$CRD_DIR" ]] || "$HERE/cluster/build.sh" monitoring-crds >&2
  echo "$CRD_DIR"
}

install_monitoring_crds() {
  local dir name files=()
  dir="$(crd_dir)"
  for name in "${MONITORING_CRDS[@]}"; do files+=(-f "$dir/monitoring.coreos.com_$name.yaml"); done
  # Server-side apply: these CRDs are too large for the last-applied annotation.
  kc apply --server-side --force-conflicts "${files[@]}" >&2
  local crd_refs=()
  for name in "${MONITORING_CRDS[@]}"; do crd_refs+=("crd/$name.monitoring.coreos.com"); done
  wait_established 60 kc "${crd_refs[@]}" || die "monitoring CRDs not Established after 60 s"
  log "monitoring CRDs installed (prometheus-operator $PROM_OPERATOR_VERSION)"
}

remove_monitoring_crds() {
  local name
  for name in "${MONITORING_CRDS[@]}"; do
    kc delete --ignore-not-found --wait=true "crd/$name.monitoring.coreos.com" >&2
  done
  log "monitoring CRDs removed"
}

# --- bring-up ------------------------------------------------------------------------------

running() {
  local name
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    proc_alive "$name" || return 1
  done
  [[ -f "$KUBECONFIG_PATH" ]] && kc get --raw /readyz >/dev/null 2>&1
}

choose_ports() {
  local base="${WHISPER_PORT_BASE:-23790}" ports
  mapfile -t ports < <(free_ports "$base" 6)
  ((${#ports[@]} == 6)) || die "no 6 free ports from $base below 32768"
  ETCD_PORT="${WHISPER_ETCD_PORT:-${ports[0]}}"
  ETCD_PEER_PORT="${WHISPER_ETCD_PEER_PORT:-${ports[1]}}"
  APISERVER_PORT="${WHISPER_APISERVER_PORT:-${ports[2]}}"
  KCM_PORT="${WHISPER_KCM_PORT:-${ports[3]}}"
  SCHEDULER_PORT="${WHISPER_SCHEDULER_PORT:-${ports[4]}}"
  KWOK_PORT="${WHISPER_KWOK_PORT:-${ports[5]}}"
  cat >"$STATE/ports.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
APISERVER_PORT=$APISERVER_PORT
KCM_PORT=$KCM_PORT
SCHEDULER_PORT=$SCHEDULER_PORT
KWOK_PORT=$KWOK_PORT
EOF
}

# Certificates are made once per state dir; kubeconfigs follow the apiserver port.
prepare_pki() {
  local pki="$STATE/pki" server="https://127.0.0.1:$APISERVER_PORT" id
  [[ -f "$pki/sa.pub" && -f "$pki/front-proxy/client.crt" ]] || make_pki "$pki" "$SERVICE_IP"
  write_kubeconfig "$KUBECONFIG_PATH" "$server" "$pki" admin
  for id in controller-manager scheduler kwok; do
    write_kubeconfig "$STATE/$id.kubeconfig" "$server" "$pki" "$id"
  done
}

start_etcd() {
  local url="http://127.0.0.1"
  rm -rf "$STATE/etcd-data"
  start_proc etcd "$K8S_BIN_DIR/etcd" \
    --name=whisper-e2e --data-dir="$STATE/etcd-data" \
    --listen-client-urls="$url:$ETCD_PORT" --advertise-client-urls="$url:$ETCD_PORT" \
    --listen-peer-urls="$url:$ETCD_PEER_PORT" --initial-advertise-peer-urls="$url:$ETCD_PEER_PORT" \
    --initial-cluster="whisper-e2e=$url:$ETCD_PEER_PORT" --initial-cluster-state=new \
    --unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn
  wait_for etcd 30 curl -fsS "$url:$ETCD_PORT/health" || failed etcd
}

start_apiserver() {
  local pki="$STATE/pki"
  # The "kubernetes" Endpoints may not hold a loopback address, so the reconciler is off.
  start_proc kube-apiserver "$K8S_BIN_DIR/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --requestheader-client-ca-file="$pki/front-proxy/ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy/client.crt" \
    --proxy-client-key-file="$pki/front-proxy/client.key" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction,PodSecurity,ExtendedResourceToleration \
    --allow-privileged=true \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --cert-dir="$STATE/apiserver-certs" --profiling=false
  wait_for kube-apiserver 60 kc get --raw /readyz || failed kube-apiserver
}

start_controllers() {
  local pki="$STATE/pki" cm="$STATE/controller-manager.kubeconfig" sk="$STATE/scheduler.kubeconfig"
  start_proc kube-controller-manager "$K8S_BIN_DIR/kube-controller-manager" \
    --kubeconfig="$cm" --authentication-kubeconfig="$cm" --authorization-kubeconfig="$cm" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$STATE/kcm-certs" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
  start_proc kube-scheduler "$K8S_BIN_DIR/kube-scheduler" \
    --kubeconfig="$sk" --authentication-kubeconfig="$sk" --authorization-kubeconfig="$sk" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --cert-dir="$STATE/scheduler-certs" \
    --leader-elect=false
  # kwok stands in for every node's kubelet: heartbeats, and pods bound to its nodes turn Running.
  # Its node IP is loopback, so anything that talks to a "kubelet" stays on this machine.
  printf 'apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n' >"$STATE/kwok.yaml"
  start_proc kwok "$K8S_BIN_DIR/kwok" \
    --kubeconfig="$STATE/kwok.kubeconfig" --config="$STATE/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --node-port="$KWOK_PORT" --server-address="127.0.0.1:$KWOK_PORT" \
    --tls-cert-file="$pki/kwok-serving.crt" --tls-private-key-file="$pki/kwok-serving.key" \
    --cidr="$POD_CIDR" --node-lease-duration-seconds=40
  wait_for kube-controller-manager 60 curl -kfsS "https://127.0.0.1:$KCM_PORT/healthz" || failed kube-controller-manager
  wait_for kube-scheduler 60 curl -kfsS "https://127.0.0.1:$SCHEDULER_PORT/healthz" || failed kube-scheduler
}

add_nodes() {
  nodes_manifest "${WHISPER_CPU_NODES:-2}" "${WHISPER_GPU_NODES:-2}" "${WHISPER_GPUS_PER_NODE:-2}" |
    kc apply -f - >&2
  wait_for "nodes Ready" 60 kc wait --for=condition=Ready node --all --timeout=1s || failed kwok
  # Pods are refused until the namespace's default ServiceAccount exists.
  wait_for "default ServiceAccount" 60 kc get serviceaccount default -n default || failed kube-controller-manager
}

# failed NAME: print the tail of NAME's log, stop everything, exit.
failed() {
  log "$1 did not come up; last lines of $STATE/logs/$1.log:"
  tail -n 30 "$STATE/logs/$1.log" >&2 || true
  stop_all || true
  exit 1
}

cmd_up() {
  local crds=yes
  while (($#)); do
    case "$1" in
      --no-monitoring-crds) crds=no ;;
      *) die "unknown option for up: $1" ;;
    esac
    shift
  done
  need_binaries
  KUBECTL="$(kubectl_bin)"
  local start=$SECONDS
  if running; then
    log "cluster already running (state $STATE)"
  else
    stop_all || die "could not stop leftovers of an earlier cluster"
    mkdir -p "$STATE"
    choose_ports
    prepare_pki
    start_etcd
    start_apiserver
    start_controllers
    add_nodes
  fi
  if [[ $crds == yes ]]; then install_monitoring_crds; else remove_monitoring_crds; fi
  log "cluster up in $((SECONDS - start))s; kubectl --kubeconfig $KUBECONFIG_PATH"
  echo "$KUBECONFIG_PATH"
}

cmd_down() {
  stop_all || die "some processes survived SIGKILL: $(our_pids | tr '\n' ' ')"
  rm -rf "$STATE/etcd-data"
  log "cluster down"
}

cmd_status() {
  KUBECTL="$(kubectl_bin)"
  if running; then
    log "running; kubeconfig $KUBECONFIG_PATH"
    echo "$KUBECONFIG_PATH"
  else
    log "not running"
    return 1
  fi
}

with_running_cluster() {
  KUBECTL="$(kubectl_bin)"
  running || die "no cluster running; run: e2e/cluster.sh up"
  "$@"
}

case "${1:-}" in
  up | down | install-monitoring-crds | remove-monitoring-crds) lock_state ;;
esac
case "${1:-}" in
  build) "$HERE/cluster/build.sh" ;;
  up) shift && cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  install-monitoring-crds) with_running_cluster install_monitoring_crds ;;
  remove-monitoring-crds) with_running_cluster remove_monitoring_crds ;;
  *)
    awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0" >&2
    exit 2
    ;;
esac
