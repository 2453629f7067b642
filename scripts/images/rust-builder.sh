#!/usr/bin/env bash
# Makes a local stand-in for the published rust:<version>-slim-<suite> image from Debian packages
# and this machine's Rust toolchain, for machines that cannot pull it. Same layout as the official
# image (RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo on PATH, the rustup proxies,
# the minimal profile: rustc, cargo, rust-std), so a Dockerfile's `cargo build` and its cache
# mounts of /usr/local/cargo/registry work the same. It also carries what server/Dockerfile
# apt-installs (cmake, clang, libclang-dev, make), so that step has nothing left to download.
#
# It also trusts the host's site-local CAs (/usr/local/share/ca-certificates, Debian's place for
# them): where egress goes through a TLS-inspecting proxy the host trusts, cargo inside the build
# must trust it too to fetch from crates.io. Only this build-stage image gets them, never a shipped
# runtime image; the tag names their hash, so a change of CAs makes a new base.
#
# Usage: scripts/images/rust-builder.sh     prints the image reference on stdout
#   RUSTC (default: rustc on PATH) picks the toolchain to copy; DEBIAN_SUITE etc.: see lib.sh.
set -euo pipefail
# shellcheck source=scripts/images/lib.sh
. "$(dirname "$0")/lib.sh"

RUSTC="${RUSTC:-rustc}"
command -v "$RUSTC" >/dev/null || die "no $RUSTC: a host Rust toolchain is copied into the image"
rust_version=$("$RUSTC" --version | awk '{print $2}')
host=$("$RUSTC" -vV | sed -n 's/^host: //p')
sysroot=$("$RUSTC" --print sysroot)
toolchain="$rust_version-$host"
[ -f "$sysroot/lib/rustlib/manifest-rustc-$host" ] \
  || die "$sysroot is not a rustup-installed toolchain (no lib/rustlib/manifest-rustc-$host)"

ensure_debs mmdebstrap curl ca-certificates
release=$(debian_version)
local_cas=/usr/local/share/ca-certificates
key="$rust_version-slim-$DEBIAN_SUITE-$release"
if [ -n "$(find "$local_cas" -name '*.crt' 2>/dev/null)" ]; then
  key="$key-localca-$(find "$local_cas" -name '*.crt' | sort | xargs cat | sha256sum | cut -c1-8)"
fi
ref="localhost/whisper-operator/rust:$key"
tarball="$IMAGES_CACHE/$DEBIAN_SUITE-$release/rust-$key.tar"
changes=(
  --change "ENV RUSTUP_HOME=/usr/local/rustup"
  --change "ENV CARGO_HOME=/usr/local/cargo"
  --change "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  --change "ENV RUST_VERSION=$rust_version"
  --change 'CMD ["bash"]'
)
cached_image "$ref" "$tarball" "${changes[@]}" && exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/rust-builder.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$tarball")"

log "mmdebstrap $DEBIAN_SUITE $release (minbase + compilers)"
# gcc and libc6-dev are what the official slim image adds for rustc's linker; docs, man pages and
# translations are left out as in Debian's slim images (copyright files stay).
mapfile -t sources < <(debian_sources)
mmdebstrap --quiet --variant=minbase \
  --include=ca-certificates,gcc,libc6-dev,cmake,clang,libclang-dev,make \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="if [ -d $local_cas ]; then cp -r $local_cas/. \"\$1$local_cas/\"; fi" \
  --customize-hook="chroot \"\$1\" update-ca-certificates" \
  "$DEBIAN_SUITE" "$work/rootfs.tar" "${sources[@]}" >&2

log "copying Rust $toolchain (rustc, cargo, rust-std) from $sysroot"
stage="$work/stage"
tc="$stage/usr/local/rustup/toolchains/$toolchain"
mkdir -p "$tc/lib/rustlib" "$stage/usr/local/cargo/bin"
components=(rustc cargo rust-std)
# rustup's per-component manifests list exactly the files each component installed.
for c in "${components[@]}"; do
  sed -n 's/^\(file\|dir\)://p' "$sysroot/lib/rustlib/manifest-$c-$host"
  echo "lib/rustlib/manifest-$c-$host"
done >"$work/files"
printf '%s\n' lib/rustlib/rust-installer-version lib/rustlib/multirust-channel-manifest.toml >>"$work/files"
tar -C "$sysroot" -cf - -T "$work/files" | tar -C "$tc" -xf -
printf '%s\n' "${components[@]/%/-$host}" >"$tc/lib/rustlib/components"
{
  echo 'config_version = "1"'
  for c in "${components[@]}"; do
    printf '\n[[components]]\npkg = "%s"\ntarget = "%s"\nis_extension = false\n' "$c" "$host"
  done
} >"$tc/lib/rustlib/multirust-config.toml"
printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\nauto_self_update = "disable"\n' \
  "$toolchain" >"$stage/usr/local/rustup/settings.toml"
if rustup=$(command -v rustup); then
  # As in the official image: rustup itself, with cargo, rustc, ... as proxies to it.
  install -m 0755 "$rustup" "$stage/usr/local/cargo/bin/rustup"
  for b in cargo rustc rustdoc rust-gdb rust-gdbgui rust-lldb; do
    ln -s rustup "$stage/usr/local/cargo/bin/$b"
  done
else
  for b in cargo rustc rustdoc; do
    ln -s "/usr/local/rustup/toolchains/$toolchain/bin/$b" "$stage/usr/local/cargo/bin/$b"
  done
fi
# The official image makes both homes world-writable, so non-root builds can use them.
chmod -R a+w "$stage/usr/local/rustup" "$stage/usr/local/cargo"
tar -C "$stage" --numeric-owner --owner=0 --group=0 -rf "$work/rootfs.tar" ./usr/local/rustup ./usr/local/cargo
mv "$work/rootfs.tar" "$tarball"

cached_image "$ref" "$tarball" "${changes[@]}"
