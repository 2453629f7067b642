# shellcheck shell=bash disable=SC2034  # variables for the scripts that source this
# Versions of the control-plane pieces; sourced by cluster.sh and build.sh.
# Each can be overridden from the environment (e.g. K8S_VERSION=v1.34.3).
: "${K8S_VERSION:=v1.34.4}"
: "${ETCD_VERSION:=v3.6.16}"
: "${KWOK_VERSION:=v0.7.0}"
: "${PROM_OPERATOR_VERSION:=v0.85.0}"
: "${WHISPER_OPERATOR_CACHE:=$HOME/.cache/whisper-operator}"
# One folder per version set, so a version bump rebuilds and an old cache is never reused by mistake.
K8S_BIN_DIR="$WHISPER_OPERATOR_CACHE/k8s-bin-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
CRD_DIR="$WHISPER_OPERATOR_CACHE/prometheus-operator-crds-$PROM_OPERATOR_VERSION"
