#!/usr/bin/env bash
# Builds the kind suite's stand-in for the internet: an image that serves ggml model files
# over HTTP (busybox httpd: Debian's static busybox, or off the published busybox image where
# there is no dpkg, as on macOS), so WhisperServices in the cluster run the
# real download, checksum and cache path of the server's init container. The same image is the
# in-cluster client (busybox wget) of the suite's transcription-through-ClusterIP check.
#
# Usage: e2e/kind/model-server-image.sh MODEL_FILE...   (prints the image reference on stdout)
# Each file is served under its own name. The tag is derived from the models' and busybox's
# checksums, so a rebuild is skipped when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ $# -gt 0 ] || { echo "usage: model-server-image.sh MODEL_FILE..." >&2; exit 2; }
for model in "$@"; do
  [ -f "$model" ] || { echo "model-server-image: no such file: $model" >&2; exit 1; }
done
# shellcheck source=scripts/lib/host.sh
source scripts/lib/host.sh
# shellcheck source=scripts/lib/registry.sh
source scripts/lib/registry.sh

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/srv" "$root/etc" "$root/tmp"
busybox="$root/bin/busybox"
if command -v dpkg-query >/dev/null; then
  ensure_debs busybox-static
  file -L /bin/busybox | grep -q "statically linked" || { echo "model-server-image: /bin/busybox is not static" >&2; exit 1; }
  cp /bin/busybox "$busybox"
else
  published_busybox=busybox:1.37.0-musl # statically linked
  image_available "$published_busybox" || { echo "model-server-image: cannot pull $published_busybox" >&2; exit 1; }
  container="$(docker create "$published_busybox")"
  docker cp "$container:/bin/busybox" "$busybox" >/dev/null
  docker rm "$container" >/dev/null
fi

tag="$( (for model in "$@"; do sha256_hex "$model"; done; sha256_hex "$busybox") | sha256_hex | cut -c1-12)"
ref="localhost/whisper-e2e/model-server:$tag"
if docker image inspect "$ref" >/dev/null 2>&1; then
  echo "$ref"
  exit 0
fi

ln -s busybox "$root/bin/sh"
for model in "$@"; do cp "$model" "$root/srv/$(basename "$model")"; done
chmod 0444 "$root/srv/"*
echo "nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin" >"$root/etc/passwd"
echo "nonroot:x:65532:" >"$root/etc/group"
echo "model-server-image: building $ref" >&2
# Files owned by root whoever runs this (GNU tar on Linux, bsdtar on macOS spell it differently).
owner=(--owner=0 --group=0)
tar --version 2>/dev/null | grep -q GNU || owner=(--uid 0 --gid 0)
tar -C "$root" "${owner[@]}" -c . | docker import \
  --change 'USER 65532:65532' \
  --change 'EXPOSE 8080' \
  --change 'ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/srv"]' \
  - "$ref" >/dev/null
echo "$ref"
