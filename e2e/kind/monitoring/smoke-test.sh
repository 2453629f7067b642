#!/usr/bin/env bash
# Checks an installed monitoring stack (install.sh) end to end through Prometheus' HTTP API:
# a ServiceMonitor and a PrometheusRule labelled release=whisper-monitoring in another namespace
# (smoke/smoke.yaml) are picked up, the target (the Prometheus Operator's /metrics) is scraped,
# the recording rule and alert load and evaluate; the unlabelled twins are ignored.
#
# Usage: e2e/kind/monitoring/smoke-test.sh KUBECONFIG [--keep]   (--keep leaves smoke/ applied)
# Prometheus is reached through `kubectl port-forward svc/prometheus`, as a user would.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=versions.sh
source "$HERE/versions.sh"
# shellcheck source=../../../scripts/lib/host.sh
source "$HERE/../../../scripts/lib/host.sh"

[[ $# -ge 1 ]] || { echo "usage: $0 KUBECONFIG [--keep]" >&2; exit 2; }
export KUBECONFIG="$1"
keep="${2:-}"
log() { echo "monitoring/smoke-test: $(date +%H:%M:%S) $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
ensure_debs curl jq python3-pip unzip
PATH="$("$ROOT/scripts/fetch-k8s-tools.sh" | tail -n1):$PATH"

ns="$MONITORING_NAMESPACE"
pf_log="$(mktemp)"
pf_pid=""
cleanup() {
  [[ -n "$pf_pid" ]] && kill "$pf_pid" 2>/dev/null
  rm -f "$pf_log"
  [[ "$keep" == --keep ]] || kubectl delete --ignore-not-found --wait=false -f "$HERE/smoke/smoke.yaml" >/dev/null 2>&1 || true
}
trap cleanup EXIT

kubectl apply -f "$HERE/smoke/smoke.yaml" >&2

# Port 0: kubectl picks a free local port and says which.
kubectl -n "$ns" port-forward "svc/$PROMETHEUS_SERVICE" :9090 >"$pf_log" 2>&1 &
pf_pid=$!
port=""
for _ in $(seq 30); do
  port="$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$pf_log" | head -n1)"
  [[ -n "$port" ]] && break
  sleep 1
done
[[ -n "$port" ]] || die "port-forward did not start: $(cat "$pf_log")"
api="http://127.0.0.1:$port/api/v1"
log "Prometheus at http://127.0.0.1:$port (port-forward to $ns/svc/$PROMETHEUS_SERVICE)"

# eventually SECONDS DESCRIPTION CMD...: the operator regenerates the config, the kubelet syncs
# the Secret into the pod (up to a minute) and the reloader reloads Prometheus; then scrapes
# and rule evaluations need a few more seconds.
eventually() {
  local deadline=$((SECONDS + $1)) what="$2"
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || die "$what (waited until $(date +%H:%M:%S))"
    sleep 3
  done
  log "ok: $what"
}

pool=serviceMonitor/monitoring-smoke/selected/0
target_up() {
  curl -fsS "$api/targets?state=active" |
    jq -e --arg p "$pool" '[.data.activeTargets[] | select(.scrapePool == $p and .health == "up")] | length >= 1' >/dev/null
}
rule_loaded() {
  curl -fsS "$api/rules" |
    jq -e '[.data.groups[] | select(.name == "whisper-smoke") | .rules[] | select(.health == "ok")] | length == 2' >/dev/null
}
up_is_1() {
  curl -fsS --get "$api/query" --data-urlencode 'query=up{namespace="monitoring",service="prometheus-operator"}' |
    jq -e '[.data.result[] | select(.value[1] == "1")] | length >= 1' >/dev/null
}
recorded() {
  curl -fsS --get "$api/query" --data-urlencode 'query=whisper_smoke:operator_up:sum' |
    jq -e '(.data.result[0].value[1] // "0") | tonumber >= 1' >/dev/null
}
alert_firing() {
  curl -fsS "$api/alerts" |
    jq -e '[.data.alerts[] | select(.labels.alertname == "WhisperSmokeOperatorScraped" and .state == "firing")] | length == 1' >/dev/null
}

eventually 180 "target $pool scraped (health up)" target_up
eventually 120 "rule group whisper-smoke loaded, both rules healthy" rule_loaded
eventually 60 'up{service="prometheus-operator"} == 1' up_is_1
eventually 60 "recording rule whisper_smoke:operator_up:sum evaluated" recorded
eventually 60 "alert WhisperSmokeOperatorScraped firing" alert_firing
# The unlabelled twins: by now the config and rule files with everything selected are loaded.
curl -fsS "$api/targets" | jq -e '[.data.activeTargets[], .data.droppedTargets[] | .scrapePool // empty
  | select(contains("/unselected/"))] | length == 0' >/dev/null ||
  die "the unlabelled ServiceMonitor was picked up"
curl -fsS "$api/rules" | jq -e '[.data.groups[] | select(.name == "whisper-smoke-unselected")] | length == 0' >/dev/null ||
  die "the unlabelled PrometheusRule was loaded"
log "ok: the unlabelled ServiceMonitor and PrometheusRule are ignored"

# The evidence, for logs and reports.
curl -fsS "$api/targets?state=active" | jq -c --arg p "$pool" \
  '.data.activeTargets[] | select(.scrapePool == $p) | {scrapePool, scrapeUrl, health, lastError, labels}' >&2
curl -fsS "$api/rules" | jq -c '.data.groups[] | select(.name == "whisper-smoke") | {name, file, rules: [.rules[] | {name, type, health}]}' >&2
curl -fsS --get "$api/query" --data-urlencode 'query=up' | jq -c '.data.result[] | {metric, value}' >&2
log "passed"
