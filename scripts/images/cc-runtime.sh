#!/usr/bin/env bash
# Makes a local stand-in for gcr.io/distroless/cc-debian13:nonroot from Debian packages, for
# machines that cannot pull it: the same package set (glibc, libgcc, libstdc++, libgomp, CA
# certificates, tzdata, netbase, base-files), no shell, no package manager, and the distroless
# `nonroot` user (uid/gid 65532, home /home/nonroot) as the default user. Like distroless, the
# packages are unpacked, not installed: nothing of dpkg, debconf or their dependencies comes along.
#
# Usage: scripts/images/cc-runtime.sh     prints the image reference on stdout
set -euo pipefail
# shellcheck source=scripts/images/lib.sh
. "$(dirname "$0")/lib.sh"

packages=(base-files netbase tzdata ca-certificates libc6 libgcc-s1 libstdc++6 libgomp1)

ensure_debs mmdebstrap curl ca-certificates
release=$(debian_version)
major=${release%%.*}
ref="localhost/whisper-operator/distroless-cc:debian$release-nonroot"
tarball="$IMAGES_CACHE/$DEBIAN_SUITE-$release/distroless-cc-nonroot.tar"
changes=(
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
  --change "USER 65532:65532"
  --change "WORKDIR /home/nonroot"
)
cached_image "$ref" "$tarball" "${changes[@]}" && exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/cc-runtime.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$tarball")" "$work/debs"

log "downloading ${packages[*]} from $DEBIAN_SUITE $release"
# mmdebstrap resolves the versions and verifies the archive's signatures; the hook keeps the .debs
# (the extracted tree, with dependencies such as openssl and debconf, is thrown away).
mapfile -t sources < <(debian_sources)
mmdebstrap --quiet --variant=extract --include="$(IFS=,; echo "${packages[*]}")" \
  --extract-hook="cp \"\$1\"/var/cache/apt/archives/*.deb '$work/debs/'" \
  "$DEBIAN_SUITE" "$work/extracted" "${sources[@]}" >&2

root="$work/root"
mkdir -p "$root"
for p in "${packages[@]}"; do
  debs=("$work/debs/${p}_"*.deb)
  [ -f "${debs[0]}" ] || die "no .deb for $p"
  dpkg-deb -x "${debs[0]}" "$root"
  printf '%s\n' "${debs[0]##*/}" >>"$work/manifest"
done
# Debian's merged /usr: the dynamic loader is found as /lib64/ld-linux-x86-64.so.2.
for d in bin lib lib64 sbin; do
  if [ -d "$root/$d" ] && [ ! -L "$root/$d" ]; then die "unexpected /$d directory (not merged /usr)"; fi
  mkdir -p "$root/usr/$d"
  [ -e "$root/$d" ] || ln -s "usr/$d" "$root/$d"
done
# What ca-certificates' postinst (update-ca-certificates) would have made: the bundle file that
# rustls-native-certs, OpenSSL and curl read.
mkdir -p "$root/etc/ssl/certs"
cat "$root"/usr/share/ca-certificates/mozilla/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"
# Only the copyright files of the docs, as in distroless.
find "$root/usr/share/doc" -type f ! -name copyright -delete
rm -rf "$root/usr/share/man" "$root/usr/share/lintian" "$root/usr/share/info"
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
GROUP
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
install -d -m 0700 "$root/root"
install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
install -d -m 1777 "$root/tmp"
# The package list, where image scanners look for what distroless records in /var/lib/dpkg/status.d.
install -D -m 0644 "$work/manifest" "$root/usr/share/doc/whisper-operator-base/packages"
[ "$(sed -n 's/^VERSION_ID="\(.*\)"/\1/p' "$root/usr/lib/os-release")" = "$major" ] \
  || die "base-files is not Debian $major"
tar -C "$root" --numeric-owner --sort=name -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$tarball"

cached_image "$ref" "$tarball" "${changes[@]}"
