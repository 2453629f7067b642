#!/usr/bin/env bash
# Builds and tags the project's container images. Needs Docker with BuildKit (docker buildx);
# these development machines have no Docker engine, so images are built where Docker is.
#
# Usage: scripts/build-images.sh [--cuda] [--push]
#   REGISTRY (default ghcr.io/whisper-operator) and TAG (default: the workspace version) name them:
#   $REGISTRY/whisper-server:$TAG, $REGISTRY/whisper-server:$TAG-cuda, $REGISTRY/whisper-operator:$TAG
# Prints the image references it built, one per line, on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

cuda=false
push=false
for arg in "$@"; do
  case "$arg" in
    --cuda) cuda=true ;;
    --push) push=true ;;
    *) echo "build-images.sh: unknown argument '$arg' (use --cuda, --push)" >&2; exit 2 ;;
  esac
done

command -v docker >/dev/null || { echo "build-images.sh: docker not found" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "build-images.sh: no Docker engine reachable (docker info failed)" >&2; exit 1; }

REGISTRY="${REGISTRY:-ghcr.io/whisper-operator}"
# The workspace version is the single version of every crate and of the chart's appVersion.
TAG="${TAG:-$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)}"
[ -n "$TAG" ] || { echo "build-images.sh: could not read the workspace version from Cargo.toml" >&2; exit 1; }

export DOCKER_BUILDKIT=1
build() {
  local ref=$1; shift
  echo "build-images.sh: building $ref" >&2
  docker build --progress=plain -t "$ref" "$@" . >&2
  if $push; then docker push "$ref" >&2; fi
  echo "$ref"
}

build "$REGISTRY/whisper-operator:$TAG" -f operator/Dockerfile
build "$REGISTRY/whisper-server:$TAG" -f server/Dockerfile --target cpu
if $cuda; then
  build "$REGISTRY/whisper-server:$TAG-cuda" -f server/Dockerfile --target cuda
fi
