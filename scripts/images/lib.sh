# shellcheck shell=bash
# Shared by the local base-image builders in this folder (sourced, not run). They make, from
# Debian's packages alone, stand-ins for published base images that a machine without a container
# registry cannot pull. Each builder caches its rootfs tarball under $IMAGES_CACHE, keyed by what
# went into it, and `docker import`s it under a tag with the same key; a second run is a no-op.

CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
# shellcheck disable=SC2034 # used by the builders that source this file
IMAGES_CACHE="$CACHE/images"
DEBIAN_SUITE="${DEBIAN_SUITE:-trixie}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# Set to 1 to rebuild a cached base (the key is the point release, and security updates land
# between point releases).
IMAGES_REFRESH="${IMAGES_REFRESH:-0}"

log() { echo "${0##*/}: $*" >&2; }
die() { log "$*"; exit 1; }

# ensure_debs: the Debian packages the builders use, where missing.
# shellcheck source=scripts/lib/host.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host.sh"

# The suite's point release (e.g. 13.8): part of every cache key, so a new point release makes
# new bases. Read from the mirror's signed-by-Debian release file.
debian_version() {
  local v
  v=$(curl -fsS --max-time 30 "$DEBIAN_MIRROR/dists/$DEBIAN_SUITE/InRelease" | sed -n 's/^Version: *//p')
  [ -n "$v" ] || die "could not read the $DEBIAN_SUITE release version from $DEBIAN_MIRROR"
  echo "$v"
}

# The apt sources of a base: the suite with its updates and security fixes, as Debian's own
# container images have.
debian_sources() {
  printf '%s\n' \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main"
}

# cached_image REF TARBALL [docker import --change ...]: succeeds (printing REF) when REF exists,
# or imports TARBALL when only that exists; fails when there is neither (or on IMAGES_REFRESH=1).
cached_image() {
  local ref=$1 tarball=$2; shift 2
  [ "$IMAGES_REFRESH" = 1 ] && return 1
  if docker image inspect "$ref" >/dev/null 2>&1; then
    echo "$ref"; return 0
  fi
  [ -s "$tarball" ] || return 1
  log "docker import $tarball as $ref"
  docker import "$@" "$tarball" "$ref" >/dev/null
  echo "$ref"
}
