# shellcheck shell=bash disable=SC2034  # variables for the scripts that source this
# shellcheck source-path=SCRIPTDIR
# Versions of the kind cluster's pieces; sourced by e2e/kind/cluster.sh and e2e/kind/node/build.sh.
# Kubernetes itself (K8S_VERSION) comes from e2e/cluster/versions.sh, shared with the kwok cluster.
# Each can be overridden from the environment.
# shellcheck source=../cluster/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/versions.sh"
: "${KIND_VERSION:=v0.33.0}"
# What kubeadm $K8S_VERSION expects (`kubeadm config images list`; node/build.sh checks it).
# The kwok cluster's etcd, so one build serves both.
: "${KIND_ETCD_VERSION:=$ETCD_VERSION}"
: "${KIND_COREDNS_VERSION:=v1.12.1}"
: "${KIND_PAUSE_VERSION:=3.10.1}"
# kind's containerd config.toml names pause 3.10 as its sandbox image; the same binary serves both.
: "${KIND_SANDBOX_PAUSE_VERSION:=3.10}"
: "${KIND_CRICTL_VERSION:=v1.34.0}"
: "${KIND_DEBIAN_SUITE:=bookworm}"
: "${KIND_DEBIAN_MIRROR:=http://deb.debian.org/debian}"
: "${KIND_DEBIAN_SECURITY_MIRROR:=http://deb.debian.org/debian-security}"
# Pod network of the bridge CNI (kind's default podSubnet); node N on the docker network gets the
# /24 10.244.N.0 (N = last octet of its address).
: "${KIND_POD_SUBNET:=10.244.0.0/16}"
