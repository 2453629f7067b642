# shellcheck shell=bash
# Images made from a bare root filesystem with `docker import` (no Dockerfile, no builder), for
# the static Go binaries of the kind cluster's monitoring and autoscaling stacks: no shell, no
# package manager, numeric user 65534, nothing written outside mounted volumes (so they run with
# a read-only root filesystem). Source after scripts/lib/host.sh; the sourcing script defines
# `log`. Each image carries the label io.whisper-operator.recipe, a hash of the building script
# and of this file, and is rebuilt only when that changes (or with REBUILD=1).

ROOTFS_IMAGE_LABEL=io.whisper-operator.recipe
ROOTFS_IMAGE_RECIPE="$( (sha256_hex "$0"; sha256_hex "${BASH_SOURCE[0]}") | sha256_hex | cut -c1-16)"

# image_up_to_date IMAGE: it exists and was made by this recipe.
image_up_to_date() {
  [[ "${REBUILD:-0}" != 1 ]] &&
    [[ "$(docker image inspect -f "{{index .Config.Labels \"$ROOTFS_IMAGE_LABEL\"}}" "$1" 2>/dev/null)" == "$ROOTFS_IMAGE_RECIPE" ]]
}

# base_rootfs DIR: the files every image has: the nobody user and group, TLS roots, the Go
# resolver's nsswitch.conf, /tmp and /bin.
base_rootfs() {
  local dir="$1"
  mkdir -p "$dir/etc/ssl/certs" "$dir/tmp" "$dir/bin"
  chmod 1777 "$dir/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  echo 'hosts: files dns' >"$dir/etc/nsswitch.conf"
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/"
  fi
}

# import_image NAME ROOTFS [docker import --change ...]: files owned by root, run as 65534.
import_image() {
  local name="$1" dir="$2"
  shift 2
  tar -C "$dir" --numeric-owner --sort=name -c . |
    docker import --change "USER 65534:65534" --change "LABEL $ROOTFS_IMAGE_LABEL=$ROOTFS_IMAGE_RECIPE" \
      --change "WORKDIR /" "$@" - "$name" >/dev/null
  log "built $name ($(docker image inspect -f '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1 / 1e6}'))"
}
