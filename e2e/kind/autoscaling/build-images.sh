#!/usr/bin/env bash
# The autoscaling stack's three images, printed one a line on stdout (metrics-server, KEDA
# operator, KEDA metrics API server). Where a registry answers they are upstream's published
# images, pulled (IMAGES_OFFLINE=auto, the default, or 0). Where none does (this project's
# machines), or with IMAGES_OFFLINE=1, they are built here, each from its Go module's own source
# tree (so its go.mod, go.sum and replace directives decide every dependency, as in upstream's
# builds):
#   - metrics-server $METRICS_SERVER_VERSION: sigs.k8s.io/metrics-server, ./cmd/metrics-server;
#   - KEDA $KEDA_VERSION: github.com/kedacore/keda/v2, ./cmd/operator and ./cmd/adapter (the
#     admission webhooks are not built: install.sh does not install them).
# Each image is a bare root filesystem turned into an image by `docker import`: no shell, no
# package manager, numeric user 65534, nothing written outside mounted volumes, so it runs with
# a read-only root filesystem. The binaries sit where upstream's images have them (/metrics-server,
# /keda, /keda-adapter) with upstream's entrypoints, so the same manifests run either image. An
# image is rebuilt only when its tag is missing or was made by another version of this script
# (label io.whisper-operator.recipe); the binaries are cached per version under
# $WHISPER_OPERATOR_CACHE.
#
# Usage: e2e/kind/autoscaling/build-images.sh        (needs no cluster)
# Env:   see versions.sh (METRICS_SERVER_VERSION, KEDA_VERSION, IMAGE_PREFIX, ...);
#        REBUILD=1 rebuilds the images even when they exist (not the cached binaries: delete
#        $WHISPER_OPERATOR_CACHE/{metrics-server,keda}-build-VERSION for that).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=versions.sh
source "$HERE/versions.sh"
# shellcheck source=../../../scripts/lib/host.sh
source "$ROOT/scripts/lib/host.sh"
# shellcheck source=../../../scripts/lib/registry.sh
source "$ROOT/scripts/lib/registry.sh"
# shellcheck source=../../../scripts/lib/rootfs-image.sh
source "$ROOT/scripts/lib/rootfs-image.sh"

log() { echo "autoscaling/build-images: $(date +%H:%M:%S) $*" >&2; }

"$ROOT/scripts/install-docker.sh"
published=("$PUBLISHED_METRICS_SERVER_IMAGE" "$PUBLISHED_KEDA_IMAGE" "$PUBLISHED_KEDA_METRICS_APISERVER_IMAGE")
mode="$(images_mode "${IMAGES_OFFLINE:-auto}" "${published[@]}")" || exit 1
if [[ "$mode" == published ]]; then
  printf '%s\n' "${published[@]}"
  exit 0
fi

# ca-certificates: the images' TLS roots (KEDA's scalers call HTTPS endpoints).
ensure_debs ca-certificates
# KEDA v2.20 says `go 1.26.0` in its go.mod; older toolchains refuse it.
command -v go >/dev/null || { log "go (1.26 or newer) is required"; exit 1; }

work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# module_field MODULE@VERSION FIELD: a field of `go mod download -json` (downloads the module
# zip into the module cache if needed), e.g. Dir (the unpacked, read-only source) or Info.
module_field() {
  go mod download -json "$1" | sed -n "s/^[[:space:]]*\"$2\": \"\(.*\)\",\{0,1\}$/\1/p"
}

# module_time MODULE@VERSION: when the version was published (from the module proxy's .info).
module_time() {
  sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(module_field "$1" Info)"
}

# build_module MODULE VERSION OUT LDFLAGS PACKAGE...: `go build` of PACKAGEs (./cmd/...) inside a
# writable copy of MODULE@VERSION's source, binaries into OUT/bin. Inside the module, not via a
# wrapper module or `go install MODULE/cmd/X@VERSION`: those ignore the module's replace
# directives (KEDA pins k8s.io/*, controller-runtime and the Prometheus libraries with them),
# and Go refuses to build in the read-only module cache itself. Static and path-free like
# upstream's release builds; -s -w also strips the symbol tables (smaller images).
build_module() {
  local module="$1" version="$2" out="$3" ldflags="$4" src
  shift 4
  src="$(module_field "$module@$version" Dir)"
  [[ -f "$src/go.mod" ]] || { log "go mod download $module@$version gave no source tree"; exit 1; }
  log "go build $* in $module@$version (cold: minutes)"
  local t0=$SECONDS tree="$work/src-${module##*/}-$version"
  cp -r "$src" "$tree"
  chmod -R u+w "$tree"
  mkdir -p "$out/bin.tmp"
  (
    cd "$tree"
    CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w $ldflags" -o "$out/bin.tmp/" "$@" >&2
  )
  rm -rf "${out:?}/bin"
  mv "$out/bin.tmp" "$out/bin"
  log "go build of $module@$version took $((SECONDS - t0)) s"
}

# --- metrics-server -------------------------------------------------------------------------
metrics_server_binary() {
  local dir="$WHISPER_OPERATOR_CACHE/metrics-server-build-$METRICS_SERVER_VERSION"
  local module=sigs.k8s.io/metrics-server pkg=k8s.io/client-go/pkg/version date
  if [[ ! -x "$dir/bin/metrics-server" ]]; then
    # Upstream's Makefile: -X of client-go's version (what `--version` and the /version endpoint
    # print). The build date is the release's (the module proxy's time), so rebuilds are identical.
    date="$(module_time "$module@$METRICS_SERVER_VERSION")"
    build_module "$module" "$METRICS_SERVER_VERSION" "$dir" \
      "-X $pkg.gitVersion=$METRICS_SERVER_VERSION -X $pkg.gitCommit=$METRICS_SERVER_VERSION -X $pkg.buildDate=$date" \
      ./cmd/metrics-server
  fi
  echo "$dir/bin/metrics-server"
}

metrics_server_image() {
  local bin dir="$work/rootfs-metrics-server"
  bin="$(metrics_server_binary)"
  base_rootfs "$dir"
  install -m 0755 "$bin" "$dir/metrics-server"
  # As upstream's image (distroless static, USER 65534): the binary at /, no arguments.
  import_image "$METRICS_SERVER_IMAGE" "$dir" --change 'ENTRYPOINT ["/metrics-server"]'
}

image_up_to_date "$METRICS_SERVER_IMAGE" || metrics_server_image

# --- KEDA operator and metrics API server, one Go build for both ----------------------------
keda_binaries() {
  local dir="$WHISPER_OPERATOR_CACHE/keda-build-$KEDA_VERSION"
  local module=github.com/kedacore/keda/v2
  if [[ ! -x "$dir/bin/keda" || ! -x "$dir/bin/keda-adapter" ]]; then
    # Upstream's Makefile: GO_LDFLAGS sets version.Version (logged at start: "KEDA Version:")
    # and version.GitCommit (the module zip has no git metadata: the tag stands in for it).
    build_module "$module" "$KEDA_VERSION" "$dir" \
      "-X=$module/version.Version=${KEDA_VERSION#v} -X=$module/version.GitCommit=$KEDA_VERSION" \
      ./cmd/operator ./cmd/adapter
    # go build names them after their folders; upstream's images call them keda, keda-adapter.
    mv "$dir/bin/operator" "$dir/bin/keda"
    mv "$dir/bin/adapter" "$dir/bin/keda-adapter"
  fi
  echo "$dir/bin"
}

# keda_image NAME BINARY ENTRYPOINT-JSON: upstream's layout (distroless static, the binary at /).
keda_image() {
  local name="$1" binary="$2" entrypoint="$3" dir="$work/rootfs-${2##*/}"
  base_rootfs "$dir"
  install -m 0755 "$binary" "$dir/"
  import_image "$name" "$dir" --change "ENTRYPOINT $entrypoint"
}

if ! image_up_to_date "$KEDA_IMAGE" || ! image_up_to_date "$KEDA_METRICS_APISERVER_IMAGE"; then
  bin="$(keda_binaries)"
  # Upstream's Dockerfile and Dockerfile.adapter entrypoints (the manifests override them).
  image_up_to_date "$KEDA_IMAGE" ||
    keda_image "$KEDA_IMAGE" "$bin/keda" '["/keda", "--zap-log-level=info", "--zap-encoder=console"]'
  image_up_to_date "$KEDA_METRICS_APISERVER_IMAGE" ||
    keda_image "$KEDA_METRICS_APISERVER_IMAGE" "$bin/keda-adapter" \
      '["/keda-adapter", "--secure-port=6443", "--zap-log-level=info", "--zap-encoder=console"]'
fi

printf '%s\n' "$METRICS_SERVER_IMAGE" "$KEDA_IMAGE" "$KEDA_METRICS_APISERVER_IMAGE"
