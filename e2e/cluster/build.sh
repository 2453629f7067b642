#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok from the Go module
# proxy into $K8S_BIN_DIR (outside the repo); the Kubernetes binaries and etcd come from the static
# builds the kind node image shares ($KUBERNETES_DIR, $ETCD_DIR). Idempotent: a finished build is
# marked by .complete.
# Sourced instead of run, it only defines its functions (e2e/kind/node/build.sh reuses them).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/versions.sh"

log() { echo "[build] $(date +%H:%M:%S) $*" >&2; }

work="$WHISPER_OPERATOR_CACHE/k8s-build-work"
goflags=(-trimpath)

# One build at a time: two clusters started together on a fresh machine share this cache (and
# the wrapper modules under $work). e2e/kind/node/build.sh takes the same lock.
# Taken once per process tree: a second flock on a fresh descriptor would wait on our own lock.
build_lock() {
  [[ -n "${BUILD_LOCK_HELD:-}" ]] && return 0
  mkdir -p "$WHISPER_OPERATOR_CACHE" "$work"
  exec 8>"$WHISPER_OPERATOR_CACHE/k8s-build.lock"
  # macOS has no flock(1): there two builds at once are the user's to avoid.
  if command -v flock >/dev/null; then flock 8; fi
  BUILD_LOCK_HELD=1
}

# A wrapper module per component keeps their dependency graphs apart (kwok pins other k8s libs).
new_module() { # dir name
  rm -rf "$1" && mkdir -p "$1"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

# Turns every `replace X => ./local/path` of a published go.mod into `X=X@version`, because
# `go build` of a dependency ignores its replaces and its requires say v0.0.0 for those modules.
replaces_from() { # gomod version
  go mod edit -json "$1" |
    jq -r --arg v "$2" '.Replace[]? | select(.New.Path | startswith(".")) | select(.New.Path | contains("FORBIDDEN") | not) | "\(.Old.Path)=\(.Old.Path)@\($v)"'
}

# build_kubernetes DEST CMD...: the k8s.io/kubernetes/cmd/CMD binaries into DEST, in one
# `go build`, so they share the compile.
build_kubernetes() {
  local dest="$1"; shift
  local dir="$work/kubernetes" minor staging k8s_dir
  k8s_dir="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)"
  staging="v0.${K8S_VERSION#v1.}"
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  new_module "$dir" whisper-operator/k8s-build
  cd "$dir"
  go mod edit -require "k8s.io/kubernetes@$K8S_VERSION"
  local n=0
  while read -r r; do go mod edit -replace "$r"; n=$((n + 1)); done < <(replaces_from "$k8s_dir/go.mod" "$staging")
  log "kubernetes $K8S_VERSION: $n staging modules replaced with $staging"
  local cmds=("${@/#/k8s.io/kubernetes/cmd/}")
  go get "${cmds[@]/%/@$K8S_VERSION}" >&2
  # The version stamp is what /version reports; without it the binaries say v0.0.0-master.
  local pkg=k8s.io/component-base/version
  local ld="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  log "building ${cmds[*]}"
  # Into the work dir first, so an interrupted build never leaves a half-written binary behind.
  rm -rf out && mkdir -p out "$dest"
  go build "${goflags[@]}" -ldflags="$ld" -o out/ "${cmds[@]}"
  mv out/* "$dest/"
}

# ensure_kubernetes: every Kubernetes binary either cluster runs, in $KUBERNETES_DIR. Static
# (CGO_ENABLED=0): the kind node is Debian bookworm whatever the build host, and the local control
# plane runs the same files. One `go build` for all seven shares the compile.
ensure_kubernetes() {
  local b
  for b in "${KUBERNETES_BINS[@]}"; do
    [[ -x "$KUBERNETES_DIR/$b" ]] && continue
    (CGO_ENABLED=0 build_kubernetes "$KUBERNETES_DIR" "${KUBERNETES_BINS[@]}")
    return
  done
}

# ensure_etcd: etcd $ETCD_VERSION, static, in $ETCD_DIR.
ensure_etcd() {
  [[ -x "$ETCD_DIR/etcd" ]] || (CGO_ENABLED=0 build_etcd "$ETCD_VERSION" "$ETCD_DIR")
}

# link_into DIR FILE...: hard links (copies across filesystems) under DIR, for the local control
# plane's one folder of binaries (procs.sh recognises its processes by that path).
link_into() {
  local dir="$1" f
  shift
  mkdir -p "$dir"
  for f in "$@"; do ln -f "$f" "$dir/" 2>/dev/null || cp -f "$f" "$dir/"; done
}

# build_etcd VERSION DEST
build_etcd() {
  local version="$1" dest="$2"
  local dir="$work/etcd" etcd_dir
  etcd_dir="$(go mod download -json "go.etcd.io/etcd/server/v3@$version" | jq -r .Dir)"
  new_module "$dir" whisper-operator/etcd-build
  cd "$dir"
  go mod edit -require "go.etcd.io/etcd/server/v3@$version"
  while read -r r; do go mod edit -replace "$r"; done < <(replaces_from "$etcd_dir/go.mod" "$version")
  go get "go.etcd.io/etcd/server/v3@$version" >&2
  log "building etcd $version"
  go build "${goflags[@]}" -ldflags="-s -w" -o etcd go.etcd.io/etcd/server/v3
  mkdir -p "$dest"
  mv etcd "$dest/"
}

build_kwok() {
  local dir="$work/kwok"
  new_module "$dir" whisper-operator/kwok-build
  cd "$dir"
  go get "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
  log "building kwok $KWOK_VERSION"
  go build "${goflags[@]}" -ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o kwok sigs.k8s.io/kwok/cmd/kwok
  mv kwok "$K8S_BIN_DIR/"
}

# The real ServiceMonitor / PrometheusRule CRDs, out of the prometheus-operator module.
copy_monitoring_crds() {
  local src dest="$CRD_DIR"
  src="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION" | jq -r .Dir)"
  [[ -d "$src/example/prometheus-operator-crd" ]] || { log "no CRDs in $src"; exit 1; }
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  cp "$src"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$dest.tmp/"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  log "prometheus-operator $PROM_OPERATOR_VERSION CRDs copied to $dest"
}

# Sourced (by e2e/kind/node/build.sh): only the functions above.
[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0

if [[ $# -eq 0 && -f "$K8S_BIN_DIR/.complete" ]]; then
  log "already built: $K8S_BIN_DIR"
  exit 0
fi
command -v go >/dev/null || { echo "go is required" >&2; exit 1; }
mkdir -p "$K8S_BIN_DIR"
build_lock

start=$(date +%s)
parts=("$@")
((${#parts[@]})) || parts=(kubernetes etcd kwok monitoring-crds)
for p in "${parts[@]}"; do
  case "$p" in
    kubernetes)
      ensure_kubernetes
      link_into "$K8S_BIN_DIR" "$KUBERNETES_DIR"/kube-{apiserver,controller-manager,scheduler} ;;
    etcd) ensure_etcd && link_into "$K8S_BIN_DIR" "$ETCD_DIR/etcd" ;;
    kwok) [[ -x "$K8S_BIN_DIR/kwok" ]] || build_kwok ;;
    monitoring-crds) [[ -d "$CRD_DIR" ]] || copy_monitoring_crds ;;
    *) echo "unknown part $p (kubernetes, etcd, kwok, monitoring-crds)" >&2; exit 2 ;;
  esac
done
for b in kube-apiserver kube-controller-manager kube-scheduler etcd kwok; do
  [[ -x "$K8S_BIN_DIR/$b" ]] || { log "not built yet: $b"; exit 0; }
done
[[ -d "$CRD_DIR" ]] || exit 0
touch "$K8S_BIN_DIR/.complete"
log "done in $(( $(date +%s) - start ))s: $K8S_BIN_DIR"
