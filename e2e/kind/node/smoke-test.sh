#!/usr/bin/env bash
# Checks a cluster from e2e/kind/cluster.sh the way the suite will use it: a locally built image
# loaded with `kind load docker-image` runs on the worker in a namespace that enforces the
# `restricted` Pod Security level; its Service answers by ClusterIP and by DNS name from a pod on
# the control-plane node (the other node), and through `kubectl port-forward` from this machine.
# Usage: e2e/kind/node/smoke-test.sh   (after `e2e/kind/cluster.sh up`; KIND_CLUSTER as there)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kind_dir="$(cd "$node_dir/.." && pwd)"
# shellcheck source=../versions.sh
source "$kind_dir/versions.sh"
cluster="${KIND_CLUSTER:-whisper-e2e}"
log() { echo "[smoke] $(date +%H:%M:%S) $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

kubeconfig="$("$kind_dir/cluster.sh" kubeconfig | tail -n1)"
[[ -s "$kubeconfig" ]] || die "no kubeconfig at $kubeconfig: run e2e/kind/cluster.sh up first"
kind_bin="$(command -v kind || "$node_dir/build.sh" kind | tail -n1)"
# The kubectl cluster.sh uses offline (built, or cached), else the one on PATH.
kubectl_bin="$WHISPER_OPERATOR_CACHE/kubernetes-$K8S_VERSION/kubectl"
if [[ ! -x "$kubectl_bin" ]]; then
  kubectl_bin="$(command -v kubectl || "$node_dir/build.sh" kubectl | tail -n1)"
fi
k() { "$kubectl_bin" --kubeconfig "$kubeconfig" "$@"; }
ns=kind-smoke
tmp="$(mktemp -d)"
pf_pid=""
cleanup() {
  [[ -n "$pf_pid" ]] && kill "$pf_pid" 2>/dev/null
  k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# A static HTTP echo server and client in one binary, as the image FROM nothing (no registry).
cat >"$tmp/main.go" <<'EOF'
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "get" {
		c := http.Client{Timeout: 5 * time.Second}
		for i := 0; ; i++ {
			r, err := c.Get(os.Args[2])
			if err == nil {
				b, _ := io.ReadAll(r.Body)
				fmt.Printf("%s -> %s\n", os.Args[2], b)
				return
			}
			if i == 10 {
				fmt.Println(err)
				os.Exit(1)
			}
			time.Sleep(time.Second)
		}
	}
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "hello from %s", host) })
	panic(http.ListenAndServe(":8080", nil))
}
EOF
(cd "$tmp" && go mod init smoke >/dev/null 2>&1 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o app .)
image="localhost/whisper-e2e/kind-smoke:$(sha256sum "$tmp/app" | cut -c1-12)"
tar -C "$tmp" -c app | docker import --change 'ENTRYPOINT ["/app"]' --change 'USER 65532:65532' - "$image" >/dev/null
t0=$SECONDS
"$kind_bin" load docker-image --name "$cluster" "$image" >&2
log "kind load docker-image took $((SECONDS - t0))s"

k delete namespace "$ns" --ignore-not-found --wait=true >/dev/null 2>&1 || true
k create namespace "$ns" >/dev/null
k label namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
# The restricted level's requirements, all of them.
sc='{"runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}'
k -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      nodeSelector: {kubernetes.io/hostname: $cluster-worker}
      containers:
        - name: echo
          image: $image
          imagePullPolicy: Never
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
          securityContext: $sc
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
EOF
# A non-compliant pod must be refused: proof that the namespace label is enforced.
if k -n "$ns" run privileged --image="$image" --image-pull-policy=Never --overrides='{"spec":{"containers":[{"name":"privileged","image":"'"$image"'","securityContext":{"privileged":true}}]}}' >/dev/null 2>&1; then
  die "a privileged pod was admitted in a restricted namespace"
fi
log "restricted namespace refuses a privileged pod"
k -n "$ns" rollout status deploy/echo --timeout=120s >&2
node="$(k -n "$ns" get pod -l app=echo -o jsonpath='{.items[0].spec.nodeName}')"
[[ "$node" == "$cluster-worker" ]] || die "echo runs on $node, not the worker"
log "restricted echo pod Ready on $node"

# From the control-plane node, Service traffic crosses to the worker; from the worker, DNS crosses
# to CoreDNS (which runs on the control-plane node).
ip="$(k -n "$ns" get svc echo -o jsonpath='{.spec.clusterIP}')"
for from in control-plane worker; do for url in "http://$ip/" "http://echo.$ns.svc.cluster.local/"; do
  name="client-$from-$(echo "$url" | cksum | cut -c1-6)"
  k -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $name}
spec:
  nodeName: $cluster-$from
  restartPolicy: Never
  tolerations: [{operator: Exists}]
  containers:
    - name: get
      image: $image
      imagePullPolicy: Never
      args: [get, "$url"]
      securityContext: $sc
EOF
  k -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$name" --timeout=90s >/dev/null ||
    die "$url from the $from node: $(k -n "$ns" logs "$name" 2>&1 | tail -n1)"
  log "from the $from node: $(k -n "$ns" logs "$name")"
done; done

k -n "$ns" port-forward svc/echo 18080:80 >"$tmp/pf.log" 2>&1 &
pf_pid=$!
for _ in $(seq 30); do curl -sf http://127.0.0.1:18080/ >"$tmp/pf.out" 2>/dev/null && break; sleep 0.5; done
grep -q "hello from" "$tmp/pf.out" 2>/dev/null || die "port-forward: $(cat "$tmp/pf.log")"
log "port-forward to svc/echo: $(cat "$tmp/pf.out")"
log "PASS"
