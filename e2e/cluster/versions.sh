# shellcheck shell=bash disable=SC2034  # variables for the scripts that source this
# Versions of the control-plane pieces; sourced by cluster.sh and build.sh.
# Each can be overridden from the environment (e.g. K8S_VERSION=v1.34.3).
: "${K8S_VERSION:=v1.34.4}"
: "${ETCD_VERSION:=v3.6.5}" # kubeadm $K8S_VERSION's own; the kind node's image tag says it too
: "${KWOK_VERSION:=v0.7.0}"
: "${PROM_OPERATOR_VERSION:=v0.85.0}"
: "${WHISPER_OPERATOR_CACHE:=$HOME/.cache/whisper-operator}"
# One folder per version set, so a version bump rebuilds and an old cache is never reused by mistake.
K8S_BIN_DIR="$WHISPER_OPERATOR_CACHE/k8s-bin-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
# Static builds shared by the local control plane and the kind node image (e2e/kind/node): one
# compile of Kubernetes and of etcd per version, whichever cluster asks first.
KUBERNETES_DIR="$WHISPER_OPERATOR_CACHE/kubernetes-$K8S_VERSION"
KUBERNETES_BINS=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl)
ETCD_DIR="$WHISPER_OPERATOR_CACHE/etcd-$ETCD_VERSION"
CRD_DIR="$WHISPER_OPERATOR_CACHE/prometheus-operator-crds-$PROM_OPERATOR_VERSION"
