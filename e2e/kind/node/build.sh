#!/usr/bin/env bash
# Builds, without any container registry, kind's node image for Kubernetes $K8S_VERSION and the
# tools around it, from upstream sources (the Go module proxy) and Debian's packages:
#   image    (default) the node image; prints its tag, localhost/kind-node:$K8S_VERSION-<hash>,
#            <hash> taken from every build input (versions, package lists, the files here)
#   kind     kind's CLI; prints its path
#   kubectl  kubectl $K8S_VERSION; prints its path
#   binaries every binary the node image needs, without building images
#   bases    the two Debian rootfs images only (component base, node base)
# Everything lands in ~/.cache/whisper-operator/<thing>-<version>/ and is reused from there; a
# warm run only checks that the image exists. All logs go to stderr, the result alone to stdout.
#
# What `kind build node-image` cannot do offline (it pulls etcd, coredns, pause and kindnetd
# images), done by hand the way its pkg/build/nodeimage does it:
#   1. Go binaries, static (CGO_ENABLED=0, so they run on any glibc): the seven Kubernetes ones via
#      the wrapper module of e2e/cluster/build.sh, etcd, coredns, crictl, kind; pause from pause.c.
#   2. A minbase Debian rootfs (mmdebstrap) as the base of the component images, and each image
#      (kube-apiserver, ..., etcd, coredns) as that base plus one binary; pause on nothing.
#   3. The node's base: Debian with systemd, containerd and runc, the CNI plugins (mmdebstrap).
#   4. A container of it gets kind's own files from the kind module (images/base/files), the
#      binaries, and the images imported into its containerd (files/setup-node.sh); docker commit.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$node_dir/../../.." && pwd)"
# shellcheck source=../versions.sh
source "$node_dir/../versions.sh"
# Its functions only (build_kubernetes, build_etcd, new_module, replaces_from, build_lock, $work).
# shellcheck source=../../cluster/build.sh
source "$repo/e2e/cluster/build.sh"
# shellcheck source=../../../scripts/lib/host.sh
source "$repo/scripts/lib/host.sh"
log() { echo "[kind-node] $(date +%H:%M:%S) $*" >&2; }

cache="$WHISPER_OPERATOR_CACHE"
k8s_dir="$KUBERNETES_DIR"
etcd_dir="$cache/etcd-$KIND_ETCD_VERSION"
coredns_dir="$cache/coredns-$KIND_COREDNS_VERSION"
crictl_dir="$cache/crictl-$KIND_CRICTL_VERSION"
pause_dir="$cache/pause-$KIND_PAUSE_VERSION"
kind_dir="$cache/kind-$KIND_VERSION"
# Static binaries: the node and the component images are Debian bookworm whatever the build host.
export CGO_ENABLED=0

# The node's packages: kind's base image list (images/base/Dockerfile) minus the storage test
# tools, plus Debian's containerd, runc and CNI plugins in place of kind's own builds.
node_packages=(systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod libseccomp2
  pigz bash ca-certificates curl jq procps containerd runc containernetworking-plugins)
# The component images' base: iptables and conntrack for kube-proxy, CA certificates for all.
parts_packages=(iptables conntrack ca-certificates)
pod_prefix="${KIND_POD_SUBNET%.0.0/16}"
[[ "$pod_prefix" != "$KIND_POD_SUBNET" ]] || { log "KIND_POD_SUBNET must be a /16 ending in .0.0/16"; exit 2; }

timed() { # name command...: runs it and logs how long it took (the figures in the reports)
  local name="$1" t0=$SECONDS
  shift
  "$@"
  log "$name took $((SECONDS - t0))s"
}

ensure_host_packages() { ensure_debs mmdebstrap jq gcc libc6-dev curl ca-certificates; }

require_go() {
  command -v go >/dev/null || { log "go (1.24 or newer) is required to build from the Go module proxy"; exit 1; }
}

# build_go_tool MODULE VERSION PACKAGE OUTPUT [LDFLAGS]: a throwaway wrapper module, as build.sh
# does for kwok, so each tool resolves its own dependency graph; local replaces become versions.
build_go_tool() {
  local module="$1" version="$2" pkg="$3" out="$4" ld="${5:-}" dir mod_dir
  dir="$work/$(basename "$out")-$version"
  mod_dir="$(go mod download -json "$module@$version" | jq -r .Dir)"
  new_module "$dir" "whisper-operator/$(basename "$out")-build"
  cd "$dir"
  go mod edit -require "$module@$version"
  while read -r r; do go mod edit -replace "$r"; done < <(replaces_from "$mod_dir/go.mod" "$version")
  go get "$pkg@$version" >&2
  log "building $pkg $version"
  go build "${goflags[@]}" -ldflags="-s -w $ld" -o "$dir/out.bin" "$pkg"
  mkdir -p "$(dirname "$out")"
  mv "$dir/out.bin" "$out"
}

build_kind() {
  [[ -x "$kind_dir/kind" ]] && return 0
  require_go
  build_lock
  timed "kind $KIND_VERSION" build_go_tool sigs.k8s.io/kind "$KIND_VERSION" sigs.k8s.io/kind "$kind_dir/kind"
}

build_k8s_bins() { timed "kubernetes $K8S_VERSION" ensure_kubernetes; }

build_binaries() {
  require_go
  ensure_host_packages
  build_lock
  # Subshells: the build functions cd into their wrapper modules.
  (build_k8s_bins)
  [[ -x "$etcd_dir/etcd" ]] || (timed "etcd $KIND_ETCD_VERSION" build_etcd "$KIND_ETCD_VERSION" "$etcd_dir")
  [[ -x "$coredns_dir/coredns" ]] || (timed "coredns $KIND_COREDNS_VERSION" build_go_tool \
    github.com/coredns/coredns "$KIND_COREDNS_VERSION" github.com/coredns/coredns "$coredns_dir/coredns")
  [[ -x "$crictl_dir/crictl" ]] || (timed "crictl $KIND_CRICTL_VERSION" build_go_tool \
    sigs.k8s.io/cri-tools "$KIND_CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl "$crictl_dir/crictl" \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=$KIND_CRICTL_VERSION")
  [[ -x "$pause_dir/pause" ]] || timed "pause $KIND_PAUSE_VERSION" build_pause
  (build_kind)
}

# pause, as upstream's build/pause/Makefile compiles it: static C, no Go.
build_pause() {
  local src
  src="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)/build/pause/linux/pause.c"
  mkdir -p "$pause_dir"
  gcc -Os -Wall -Werror -static -DVERSION="v$KIND_PAUSE_VERSION" -o "$pause_dir/pause.tmp" "$src"
  strip "$pause_dir/pause.tmp"
  mv "$pause_dir/pause.tmp" "$pause_dir/pause"
}

# debian_rootfs TAG PACKAGES-CSV [mmdebstrap options...]: a minbase Debian as a docker image.
debian_rootfs() {
  local tag="$1" include="$2"
  shift 2
  log "mmdebstrap $KIND_DEBIAN_SUITE ($include) -> $tag"
  # No recommends (as kind's clean-install), no docs: smaller images, same behaviour.
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$@" "$KIND_DEBIAN_SUITE" - \
    "deb $KIND_DEBIAN_MIRROR $KIND_DEBIAN_SUITE main" \
    "deb $KIND_DEBIAN_MIRROR $KIND_DEBIAN_SUITE-updates main" \
    "deb $KIND_DEBIAN_SECURITY_MIRROR $KIND_DEBIAN_SUITE-security main" |
    docker import "${import_changes[@]}" - "$tag" >/dev/null
}

hash_of() { sha256sum | cut -c1-12; }

parts_base_tag() {
  local h
  # The recipe (these functions' text) is an input too, not only the package list.
  h="$({ printf '%s\n' "$KIND_DEBIAN_SUITE" "${parts_packages[@]}"; declare -f debian_rootfs build_parts_base
    cat "$node_dir/files/iptables-wrapper"; } | hash_of)"
  echo "localhost/kind-node-parts/base:$KIND_DEBIAN_SUITE-$h"
}

node_base_tag() {
  local h
  h="$({ printf '%s\n' "$KIND_DEBIAN_SUITE" "${node_packages[@]}"; declare -f debian_rootfs build_node_base; } | hash_of)"
  echo "localhost/kind-node-parts/node-base:$KIND_DEBIAN_SUITE-$h"
}

node_image_tag() {
  local h
  h="$({
    printf '%s\n' "$K8S_VERSION" "$KIND_VERSION" "$KIND_ETCD_VERSION" "$KIND_COREDNS_VERSION" \
      "$KIND_PAUSE_VERSION" "$KIND_SANDBOX_PAUSE_VERSION" "$KIND_CRICTL_VERSION" "$KIND_POD_SUBNET" \
      "$(parts_base_tag)" "$(node_base_tag)"
    cat "$node_dir/build.sh" "$node_dir"/files/*
  } | hash_of)"
  echo "localhost/kind-node:$K8S_VERSION-$h"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_parts_base() {
  local tag
  tag="$(parts_base_tag)"
  have_image "$tag" && return 0
  local wrapper="$node_dir/files/iptables-wrapper"
  import_changes=()
  # kube-proxy finds iptables on PATH; the wrapper stands in for every iptables* name.
  # shellcheck disable=SC2016  # $1 is mmdebstrap's: the rootfs directory
  timed "component base rootfs" debian_rootfs "$tag" "$(IFS=,; echo "${parts_packages[*]}")" \
    --customize-hook="install -m 0755 '$wrapper' \"\$1/usr/sbin/iptables-wrapper\"" \
    --customize-hook='for c in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -sf iptables-wrapper "$1/usr/sbin/$c"; done'
}

build_node_base() {
  local tag
  tag="$(node_base_tag)"
  have_image "$tag" && return 0
  # As kind's base image: systemd knows it runs in a container and stops on SIGRTMIN+3.
  import_changes=(--change 'ENV container=docker' --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]')
  timed "node base rootfs" debian_rootfs "$tag" "$(IFS=,; echo "${node_packages[*]}")"
  # `docker import --change` knows no STOPSIGNAL; a one-line build adds it (the classic builder:
  # no buildx here, and it is metadata only).
  printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "$tag" | DOCKER_BUILDKIT=0 docker build -q -t "$tag" - >/dev/null
}

# component_image NAME BASE BINARY PATH-IN-IMAGE [--change ...]: BASE plus one binary, tagged NAME.
component_image() {
  local name="$1" base="$2" bin="$3" dest="$4" cid
  shift 4
  cid="$(docker create "$base" /bin/true)"
  docker cp "$bin" "$cid:$dest" >&2
  docker commit "$@" "$cid" "$name" >/dev/null
  docker rm "$cid" >/dev/null
}

# The images under exactly the names kubeadm $K8S_VERSION and kind's containerd config use.
build_component_images() {
  local base k etcd_tag="${KIND_ETCD_VERSION#v}-0"
  base="$(parts_base_tag)"
  images=()
  for k in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
    component_image "registry.k8s.io/$k:$K8S_VERSION" "$base" "$k8s_dir/$k" "/usr/local/bin/$k"
    images+=("registry.k8s.io/$k:$K8S_VERSION")
  done
  component_image "registry.k8s.io/etcd:$etcd_tag" "$base" "$etcd_dir/etcd" /usr/local/bin/etcd
  component_image "registry.k8s.io/coredns/coredns:$KIND_COREDNS_VERSION" "$base" "$coredns_dir/coredns" /coredns \
    --change 'ENTRYPOINT ["/coredns"]'
  images+=("registry.k8s.io/etcd:$etcd_tag" "registry.k8s.io/coredns/coredns:$KIND_COREDNS_VERSION")
  # pause on an empty filesystem, as upstream (FROM scratch), running as nobody.
  local tmp
  tmp="$(mktemp -d)"
  cp "$pause_dir/pause" "$tmp/pause"
  tar -C "$tmp" -c pause | docker import --change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' \
    - "registry.k8s.io/pause:$KIND_PAUSE_VERSION" >/dev/null
  rm -rf "$tmp"
  docker tag "registry.k8s.io/pause:$KIND_PAUSE_VERSION" "registry.k8s.io/pause:$KIND_SANDBOX_PAUSE_VERSION"
  images+=("registry.k8s.io/pause:$KIND_PAUSE_VERSION" "registry.k8s.io/pause:$KIND_SANDBOX_PAUSE_VERSION")

  # A version bump that changes kubeadm's expectations must fail here, not at `kind create`.
  local want
  while read -r want; do
    printf '%s\n' "${images[@]}" | grep -qxF "$want" || { log "kubeadm wants $want, which is not built"; exit 1; }
  done < <("$k8s_dir/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null)
}

build_node_image() {
  local tag="$1" base cid kind_mod
  base="$(node_base_tag)"
  kind_mod="$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | jq -r .Dir)"
  timed "component images" build_component_images
  # Not privileged: containerd only has to import content, as in kind's own builder.
  cid="$(docker run -d --entrypoint=sleep --security-opt seccomp=unconfined "$base" infinity)"
  # shellcheck disable=SC2064  # expand now: the container id and image names are known here
  trap "docker rm -f -v '$cid' >/dev/null 2>&1 || true; docker rmi ${images[*]} >/dev/null 2>&1 || true" EXIT
  docker exec "$cid" mkdir -p /build/bin
  docker cp "$kind_mod/images/base/files" "$cid:/build/kind-base"
  local f
  for f in setup-node.sh containerd-config.toml bridge-cni.sh kind-bridge-cni.service; do
    docker cp "$node_dir/files/$f" "$cid:/build/$f"
  done
  for f in "$k8s_dir/kubeadm" "$k8s_dir/kubelet" "$k8s_dir/kubectl" "$crictl_dir/crictl"; do
    docker cp "$f" "$cid:/build/bin/"
  done
  docker save "${images[@]}" | docker exec -i "$cid" sh -c 'cat >/build/images.tar'
  log "images in the node's containerd:"
  docker exec "$cid" /build/setup-node.sh "$K8S_VERSION" "$pod_prefix" >&2
  docker commit --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
    "$cid" "$tag" >/dev/null
  docker rm -f -v "$cid" >/dev/null
  docker rmi "${images[@]}" >/dev/null
  trap - EXIT
  # Older node images stay: another checkout or cluster on this machine may still want them
  # (`docker images localhost/kind-node` lists them; `docker rmi` frees about 1.1 GB each).
}

image() {
  local tag
  tag="$(node_image_tag)"
  docker info >/dev/null 2>&1 || "$repo/scripts/install-docker.sh"
  if have_image "$tag"; then
    log "node image up to date: $tag"
  else
    build_binaries
    timed "component base" build_parts_base
    timed "node base" build_node_base
    timed "node image" build_node_image "$tag"
    log "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
  fi
  echo "$tag"
}

case "${1:-image}" in
  image) image ;;
  binaries) build_binaries ;;
  bases) ensure_host_packages && timed "component base" build_parts_base && timed "node base" build_node_base ;;
  kind) build_kind && echo "$kind_dir/kind" ;;
  kubectl) [[ -x "$k8s_dir/kubectl" ]] || (require_go && ensure_host_packages && build_lock && build_k8s_bins) && echo "$k8s_dir/kubectl" ;;
  *) echo "usage: $0 [image|binaries|bases|kind|kubectl]" >&2; exit 2 ;;
esac
