#!/usr/bin/env bash
# Builds the kind suite's stand-in for the internet: an image that serves one ggml model file
# over HTTP (busybox httpd, Debian's static busybox), so WhisperServices in the cluster run the
# real download, checksum and cache path of the server's init container. The same image is the
# in-cluster client (busybox wget) of the suite's transcription-through-ClusterIP check.
#
# Usage: e2e/kind/model-server-image.sh MODEL_FILE   (prints the image reference on stdout)
# The tag is derived from the model's and busybox's checksums, so a rebuild is skipped when
# nothing changed.
set -euo pipefail
cd "$(dirname "$0")/../.."

model="${1:?usage: model-server-image.sh MODEL_FILE}"
[ -f "$model" ] || { echo "model-server-image: no such file: $model" >&2; exit 1; }
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
fi
busybox=/bin/busybox
file -L "$busybox" | grep -q "statically linked" || { echo "model-server-image: $busybox is not static" >&2; exit 1; }

tag="$( (sha256sum "$model" | cut -c1-64; sha256sum "$busybox" | cut -c1-64) | sha256sum | cut -c1-12)"
ref="localhost/whisper-e2e/model-server:$tag"
if docker image inspect "$ref" >/dev/null 2>&1; then
  echo "$ref"
  exit 0
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/srv" "$root/etc" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$model" "$root/srv/$(basename "$model")"
chmod 0444 "$root/srv/"*
echo "nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin" >"$root/etc/passwd"
echo "nonroot:x:65532:" >"$root/etc/group"
echo "model-server-image: building $ref" >&2
tar -C "$root" --owner=0 --group=0 -c . | docker import \
  --change 'USER 65532:65532' \
  --change 'EXPOSE 8080' \
  --change 'ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/srv"]' \
  - "$ref" >/dev/null
echo "$ref"
