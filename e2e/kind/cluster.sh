#!/usr/bin/env bash
# A kind cluster for the end-to-end suite (e2e/kind/cluster.yaml: one control plane, one worker),
# named ${KIND_CLUSTER:-whisper-e2e}.
#
# Usage: e2e/kind/cluster.sh up|down|kubeconfig
#   up          creates the cluster (or reuses a healthy one), waits until both nodes are Ready
#               and CoreDNS is rolled out; prints the kubeconfig's path as the last line of stdout
#   down        deletes the cluster
#   kubeconfig  prints the kubeconfig's path
#   load IMAGE...  copies local Docker images into the nodes (kind load docker-image)
# Everything but that path goes to stderr.
#
# Which node image:
#   KIND_NODE_IMAGE=IMAGE  that image, as is.
#   KIND_OFFLINE=auto      (default) kind's published node image when Docker Hub answers (a
#                          laptop with internet, Linux or macOS: nothing is built there), else
#                          the one e2e/kind/node/build.sh builds from the Go module proxy and
#                          Debian's packages (the project's machines reach no container registry).
#   KIND_OFFLINE=1         always the local build; KIND_OFFLINE=0: always the published one.
# kind itself: `kind` on PATH (offline: only if it is $KIND_VERSION), else built from the Go
# module proxy. Builds are cached in ~/.cache/whisper-operator/, so a warm `up` takes seconds.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"

# stdout carries only the result; kind's, docker's and kubectl's chatter goes to stderr.
exec 3>&1 1>&2
log() { echo "[kind] $(date +%H:%M:%S) $*" >&2; }
die() { log "$*"; exit 1; }

cluster="${KIND_CLUSTER:-whisper-e2e}"
kubeconfig="${KIND_KUBECONFIG:-$WHISPER_OPERATOR_CACHE/kind/$cluster.kubeconfig}"
offline_mode="${KIND_OFFLINE:-auto}"

# Whether kind's published node image can be pulled: Docker Hub's registry answers with any HTTP
# status (401 without a token) when reachable, with none when not.
registry_reachable() {
  local code
  code="$(curl -sm 5 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ || true)"
  [[ -n "$code" && "$code" != 000 ]]
}

# Decided once, in this shell (later calls run in command substitutions, which cannot cache).
decide_offline() {
  case "$offline_mode" in
    1 | true) is_offline=true ;;
    0 | false) is_offline=false ;;
    auto)
      if registry_reachable; then is_offline=false; else is_offline=true; fi
      log "container registry reachable: $($is_offline && echo no || echo yes)" ;;
    *) die "KIND_OFFLINE must be auto, 1 or 0 (is '$offline_mode')" ;;
  esac
  export KIND_OFFLINE_DECIDED=$is_offline
}
offline() { "${KIND_OFFLINE_DECIDED:?}"; }

find_kind() { # [any]: any kind will do (to delete a cluster)
  if command -v kind >/dev/null; then
    # The local node image follows kind $KIND_VERSION's layout; other versions may not fit it.
    if [[ "${1:-}" == any ]] || ! offline || [[ -n "${KIND_NODE_IMAGE:-}" ]] ||
      kind version 2>/dev/null | grep -q "kind $KIND_VERSION "; then
      kind_bin="$(command -v kind)"
      return
    fi
    log "kind on PATH is not $KIND_VERSION; using the pinned build"
  fi
  kind_bin="$("$here/node/build.sh" kind | tail -n1)"
}

find_kubectl() {
  if offline; then
    kubectl_bin="$("$here/node/build.sh" kubectl | tail -n1)"
  elif command -v kubectl >/dev/null; then
    kubectl_bin="$(command -v kubectl)"
  else
    kubectl_bin="$("$repo/scripts/fetch-k8s-tools.sh" | tail -n1)/kubectl"
  fi
}

k() { "$kubectl_bin" --kubeconfig "$kubeconfig" "$@"; }

# The image `up` wants; empty for kind's own default.
wanted_image() {
  if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
    echo "$KIND_NODE_IMAGE"
  elif offline; then
    "$here/node/build.sh" image | tail -n1
  fi
}

cluster_exists() { "$kind_bin" get clusters 2>/dev/null | grep -qxF "$cluster"; }

# Healthy: both node containers run the wanted image, the API answers, nodes Ready, CoreDNS up.
healthy() {
  local image="$1" node running
  for node in "$cluster-control-plane" "$cluster-worker"; do
    running="$(docker inspect -f '{{.State.Running}} {{.Config.Image}}' "$node" 2>/dev/null || true)"
    [[ "$running" == "true "* ]] || { log "$node is not running"; return 1; }
    [[ -z "$image" || "$running" == "true $image" ]] || { log "$node runs ${running#true }, not $image"; return 1; }
  done
  "$kind_bin" export kubeconfig --name "$cluster" --kubeconfig "$kubeconfig" >/dev/null 2>&1 || return 1
  k get --raw /readyz >/dev/null 2>&1 || { log "API server not ready"; return 1; }
  wait_ready 30s
}

wait_ready() {
  local timeout="$1"
  k wait --for=condition=Ready node --all --timeout="$timeout" >/dev/null || return 1
  # kind returns before CoreDNS reaches the API: kube-proxy has to write the Service rules first.
  k -n kube-system rollout status deploy/coredns --timeout="$timeout" >/dev/null || return 1
}

up() {
  local image config t0=$SECONDS
  "$repo/scripts/install-docker.sh"
  decide_offline
  image="$(wanted_image)"
  find_kind
  find_kubectl
  mkdir -p "$(dirname "$kubeconfig")"
  if cluster_exists; then
    if healthy "$image"; then
      log "reusing healthy cluster $cluster ($((SECONDS - t0))s)"
      echo "$kubeconfig" >&3
      return
    fi
    log "cluster $cluster is not healthy: recreating it"
    "$kind_bin" delete cluster --name "$cluster"
  fi
  config="$(mktemp)"
  # shellcheck disable=SC2064  # expand now
  trap "rm -f '$config'" EXIT
  cat "$here/cluster.yaml" >"$config"
  if [[ -n "$image" && -z "${KIND_NODE_IMAGE:-}" ]]; then
    # The local node image brings a bridge CNI config in place of kindnetd.
    printf 'networking:\n  disableDefaultCNI: true\n' >>"$config"
  fi
  log "creating cluster $cluster (${image:-the default node image of kind})"
  local t1=$SECONDS
  "$kind_bin" create cluster --name "$cluster" --config "$config" --kubeconfig "$kubeconfig" \
    ${image:+--image "$image"}
  log "kind create cluster took $((SECONDS - t1))s"
  t1=$SECONDS
  wait_ready 300s || die "cluster $cluster did not become ready; see \`kind export logs --name $cluster\`"
  log "nodes Ready and CoreDNS rolled out $((SECONDS - t1))s later; up took $((SECONDS - t0))s"
  echo "$kubeconfig" >&3
}

down() {
  find_kind any
  "$kind_bin" delete cluster --name "$cluster"
  rm -f "$kubeconfig"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  load)
    shift
    find_kind any
    for image in "$@"; do "$kind_bin" load docker-image --name "$cluster" "$image"; done ;;
  kubeconfig)
    if [[ ! -s "$kubeconfig" ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
      find_kind any
      if cluster_exists; then
        mkdir -p "$(dirname "$kubeconfig")"
        "$kind_bin" export kubeconfig --name "$cluster" --kubeconfig "$kubeconfig" >/dev/null
      fi
    fi
    echo "$kubeconfig" >&3 ;;
  *) echo "usage: $0 up|down|kubeconfig|load IMAGE..." >&2; exit 2 ;;
esac
