#!/usr/bin/env bash
# The monitoring stack's three images, printed one a line on stdout (operator, config reloader,
# Prometheus). Where a registry answers they are upstream's published images, pulled
# (IMAGES_OFFLINE=auto, the default, or 0). Where none does (this project's machines), or with
# IMAGES_OFFLINE=1, they are built here:
#   - the Prometheus Operator and prometheus-config-reloader, static Go binaries built from the
#     Go module github.com/prometheus-operator/prometheus-operator at $PROM_OPERATOR_VERSION;
#   - Prometheus $PROMETHEUS_VERSION, a static Go binary built from the Go module
#     github.com/prometheus/prometheus at $PROMETHEUS_MODULE_VERSION (API only, no web UI).
# Each image is a bare root filesystem turned into an image by `docker import`: no shell, no
# package manager, numeric user 65534, nothing written outside mounted volumes, so it runs with
# a read-only root filesystem. An image is rebuilt only when its tag is missing or was made by
# another version of this script (label io.whisper-operator.recipe).
#
# Usage: e2e/kind/monitoring/build-images.sh        (needs no cluster)
# Env:   see versions.sh (PROM_OPERATOR_VERSION, PROMETHEUS_VERSION, IMAGE_PREFIX, ...);
#        REBUILD=1 rebuilds even when the images exist.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=versions.sh
source "$HERE/versions.sh"
# shellcheck source=../../../scripts/lib/host.sh
source "$HERE/../../../scripts/lib/host.sh"

log() { echo "monitoring/build-images: $*" >&2; }

# shellcheck source=../../../scripts/lib/registry.sh
source "$ROOT/scripts/lib/registry.sh"
# shellcheck source=../../../scripts/lib/rootfs-image.sh
source "$ROOT/scripts/lib/rootfs-image.sh"

"$ROOT/scripts/install-docker.sh"
published=("$PUBLISHED_PROM_OPERATOR_IMAGE" "$PUBLISHED_PROM_CONFIG_RELOADER_IMAGE" "$PUBLISHED_PROMETHEUS_IMAGE")
mode="$(images_mode "${IMAGES_OFFLINE:-auto}" "${published[@]}")" || exit 1
if [[ "$mode" == published ]]; then
  printf '%s\n' "${published[@]}"
  exit 0
fi

# ca-certificates: the images' TLS roots.
ensure_debs ca-certificates
# The 28.x client on PATH has no buildx, and `docker import` needs no builder at all.
command -v go >/dev/null || { log "go (1.24 or newer) is required"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- Prometheus Operator and config reloader, one Go build for both -----------------------
build_operator_binaries() {
  # A wrapper module: the operator's go.mod replaces its API and client submodules with local
  # folders that its module zip lacks, and `go build` of a dependency ignores those replaces and
  # uses the published submodules at the same version instead.
  local dir="$WHISPER_OPERATOR_CACHE/prometheus-operator-build-$PROM_OPERATOR_VERSION"
  local mod=github.com/prometheus-operator/prometheus-operator
  local v="${PROM_OPERATOR_VERSION#v}"
  if [[ -x "$dir/bin/operator" && -x "$dir/bin/prometheus-config-reloader" ]]; then
    echo "$dir/bin"
    return
  fi
  log "go build $mod/cmd/{operator,prometheus-config-reloader}@$PROM_OPERATOR_VERSION"
  mkdir -p "$dir"
  rm -f "$dir/go.mod" "$dir/go.sum"
  (
    cd "$dir"
    go mod init local/prometheus-operator-build >/dev/null 2>&1
    # Without the hundred "go: added MODULE" lines.
    go get "$mod/cmd/operator@$PROM_OPERATOR_VERSION" "$mod/cmd/prometheus-config-reloader@$PROM_OPERATOR_VERSION" 2>&1 |
      grep -v '^go: added ' >&2 || true
    # As upstream's Makefile: static, stripped, version info for `--version` and build_info.
    CGO_ENABLED=0 go build -trimpath -o bin/ \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=$v -X github.com/prometheus/common/version.Revision=$PROM_OPERATOR_VERSION -X github.com/prometheus/common/version.Branch=release -X github.com/prometheus/common/version.BuildUser=whisper-operator" \
      "$mod/cmd/operator" "$mod/cmd/prometheus-config-reloader" >&2
  )
  echo "$dir/bin"
}

go_image() {
  local name="$1" binary="$2" dir="$work/rootfs-${2##*/}"
  base_rootfs "$dir"
  install -m 0755 "$binary" "$dir/bin/"
  import_image "$name" "$dir" --change "ENTRYPOINT [\"/bin/$(basename "$binary")\"]"
}

if ! image_up_to_date "$PROM_OPERATOR_IMAGE" || ! image_up_to_date "$PROM_CONFIG_RELOADER_IMAGE"; then
  bin="$(build_operator_binaries)"
  image_up_to_date "$PROM_OPERATOR_IMAGE" || go_image "$PROM_OPERATOR_IMAGE" "$bin/operator"
  image_up_to_date "$PROM_CONFIG_RELOADER_IMAGE" || go_image "$PROM_CONFIG_RELOADER_IMAGE" "$bin/prometheus-config-reloader"
fi

# --- Prometheus -------------------------------------------------------------------------------
# From the Go module: Debian's `prometheus` package (2.42) is built without Kubernetes service
# discovery (`kubernetes_sd_configs` fails to parse), which every ServiceMonitor needs. The module
# zip has no compiled web UI (upstream builds it with npm), so this image serves the API only.
build_prometheus_binary() {
  local dir="$WHISPER_OPERATOR_CACHE/prometheus-build-$PROMETHEUS_VERSION"
  local mod=github.com/prometheus/prometheus v="${PROMETHEUS_VERSION#v}"
  if [[ -x "$dir/bin/prometheus" ]]; then
    echo "$dir/bin"
    return
  fi
  log "go build $mod/cmd/prometheus@$PROMETHEUS_MODULE_VERSION (Prometheus $PROMETHEUS_VERSION)"
  mkdir -p "$dir"
  rm -f "$dir/go.mod" "$dir/go.sum"
  (
    cd "$dir"
    go mod init local/prometheus-build >/dev/null 2>&1
    go get "$mod/cmd/prometheus@$PROMETHEUS_MODULE_VERSION" 2>&1 | grep -v '^go: added ' >&2 || true
    CGO_ENABLED=0 go build -trimpath -o bin/ \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=$v -X github.com/prometheus/common/version.Revision=$PROMETHEUS_MODULE_VERSION -X github.com/prometheus/common/version.Branch=release -X github.com/prometheus/common/version.BuildUser=whisper-operator" \
      "$mod/cmd/prometheus" >&2
  )
  echo "$dir/bin"
}

prometheus_image() {
  local bin dir="$work/rootfs-prometheus"
  bin="$(build_prometheus_binary)"
  base_rootfs "$dir"
  install -m 0755 "$bin/prometheus" "$dir/bin/"
  # A config that scrapes Prometheus itself, for `docker run` (the operator and compose mount
  # their own), and the data folder as upstream's image has it: /prometheus, owned by 65534.
  mkdir -p "$dir/etc/prometheus"
  cat >"$dir/etc/prometheus/prometheus.yml" <<'EOF'
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
EOF
  mkdir -p "$dir/prometheus"
  chown 65534:65534 "$dir/prometheus"
  import_image "$PROMETHEUS_IMAGE" "$dir" \
    --change 'ENTRYPOINT ["/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' \
    --change 'WORKDIR /prometheus' \
    --change 'EXPOSE 9090' \
    --change 'VOLUME ["/prometheus"]'
}

image_up_to_date "$PROMETHEUS_IMAGE" || prometheus_image

printf '%s\n' "$PROM_OPERATOR_IMAGE" "$PROM_CONFIG_RELOADER_IMAGE" "$PROMETHEUS_IMAGE"
