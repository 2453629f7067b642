#!/usr/bin/env bash
# Builds and tags the project's container images from server/Dockerfile and operator/Dockerfile,
# with BuildKit, and works without a container registry.
#
# Usage: scripts/build-images.sh [--cuda] [--push]
#   REGISTRY (default ghcr.io/whisper-operator) and TAG (default: the workspace version) name them:
#   $REGISTRY/whisper-server:$TAG, $REGISTRY/whisper-server:$TAG-cuda, $REGISTRY/whisper-operator:$TAG
#   IMAGES_OFFLINE=auto (default) | 1 | 0 picks the base images: 0, the published ones (the
#   Dockerfiles' defaults: rust:*-slim-trixie, distroless/cc, nvidia/cuda); 1, stand-ins built
#   here from Debian packages by scripts/images/ (cached); auto, the published ones where they can
#   be pulled, else the local ones. The Dockerfiles are the same either way: bases are build args.
# Prints the image references it built, one per line, on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "build-images.sh: $*" >&2; }
die() { log "$*"; exit 1; }

cuda=false
push=false
for arg in "$@"; do
  case "$arg" in
    --cuda) cuda=true ;;
    --push) push=true ;;
    *) die "unknown argument '$arg' (use --cuda, --push)" ;;
  esac
done

REGISTRY="${REGISTRY:-ghcr.io/whisper-operator}"
# The workspace version is the single version of every crate and of the chart's appVersion.
TAG="${TAG:-$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)}"
[ -n "$TAG" ] || die "could not read the workspace version from Cargo.toml"
IMAGES_OFFLINE="${IMAGES_OFFLINE:-auto}"
case "$IMAGES_OFFLINE" in auto | 0 | 1) ;; *) die "IMAGES_OFFLINE must be auto, 0 or 1" ;; esac
# shellcheck source=scripts/lib/registry.sh
. scripts/lib/registry.sh

# Starts (or, on a fresh Debian machine, installs) a Docker engine; a no-op where one answers.
scripts/install-docker.sh >&2

# A client that builds with BuildKit: buildx where it is installed (`--load` puts the image in the
# engine's store, where `docker push` and kind find it); otherwise a client older than 23.0, whose
# `DOCKER_BUILDKIT=1 docker build` drives the engine's built-in BuildKit (newer clients insist on
# buildx for that).
builder=()
for client in docker /usr/bin/docker /usr/local/bin/docker; do
  command -v "$client" >/dev/null || continue
  if "$client" buildx version >/dev/null 2>&1; then
    builder=("$client" buildx build --load)
    break
  fi
  version=$("$client" version --format '{{.Client.Version}}' 2>/dev/null || true)
  if [ -n "$version" ] && [ "${version%%.*}" -lt 23 ] 2>/dev/null; then
    builder=(env DOCKER_BUILDKIT=1 "$client" build)
    break
  fi
done
[ ${#builder[@]} -gt 0 ] || die "no Docker client with BuildKit: install docker-buildx (or Debian's docker.io)"
docker_cli=${builder[0]}
[ "$docker_cli" = env ] && docker_cli=${builder[2]}
log "building with: ${builder[*]}"

published=(
  "$(sed -n 's/^ARG RUST_IMAGE=//p' server/Dockerfile)"
  "$(sed -n 's/^ARG RUNTIME_IMAGE=//p' server/Dockerfile)"
)
rust_version=$(sed -n 's/^ARG RUST_VERSION=//p' server/Dockerfile)
published[0]=${published[0]//\$\{RUST_VERSION\}/$rust_version}

bases_mode=$(DOCKER="$docker_cli" images_mode "$IMAGES_OFFLINE" "${published[@]}") || exit 1
bases=()
if [ "$bases_mode" = local ]; then
  $cuda && die "--cuda needs the nvidia/cuda base images from a registry (scripts/build-cuda-server.sh builds a CUDA binary without Docker)"
  host_rust=$(rustc --version 2>/dev/null | awk '{print $2}')
  case "$host_rust" in
    "$rust_version" | "$rust_version".*) ;;
    *) log "warning: the local builder copies this machine's Rust ${host_rust:-(none)}, the Dockerfiles name $rust_version" ;;
  esac
  rust_image=$(scripts/images/rust-builder.sh)
  runtime_image=$(scripts/images/cc-runtime.sh)
  bases=(--build-arg "RUST_IMAGE=$rust_image" --build-arg "RUNTIME_IMAGE=$runtime_image")
  log "bases: $rust_image, $runtime_image"
else
  log "bases: the published images (${published[*]})"
fi

build() {
  local ref=$1; shift
  log "building $ref"
  "${builder[@]}" --progress=plain -t "$ref" "${bases[@]}" "$@" . >&2
  if $push; then "$docker_cli" push "$ref" >&2; fi
  echo "$ref"
}

build "$REGISTRY/whisper-operator:$TAG" -f operator/Dockerfile
build "$REGISTRY/whisper-server:$TAG" -f server/Dockerfile --target cpu
if $cuda; then
  build "$REGISTRY/whisper-server:$TAG-cuda" -f server/Dockerfile --target cuda
fi
