# shellcheck shell=bash disable=SC2034  # variables for the scripts that source this
# shellcheck source-path=SCRIPTDIR
# Names and versions of the kind cluster's autoscaling pieces (metrics-server for the resource
# metrics API, KEDA for external metrics and ScaledObjects) and of their locally built images.
# Sourced by build-images.sh, install.sh and smoke-test.sh. Each value can be overridden from
# the environment.
_autoscaling_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# WHISPER_OPERATOR_CACHE is pinned once, for every cluster script.
# shellcheck source=../../cluster/versions.sh
source "$_autoscaling_dir/../../cluster/versions.sh"

# metrics-server, built from the Go module sigs.k8s.io/metrics-server (cmd/metrics-server).
: "${METRICS_SERVER_VERSION:=v0.8.0}"
# KEDA, built from the Go module github.com/kedacore/keda/v2 (cmd/operator, cmd/adapter).
# v2.20.x needs Go 1.26; v2.21 needs Go 1.27.
: "${KEDA_VERSION:=v2.20.2}"

# Upstream's images, used where a registry answers (build-images.sh decides). KEDA's tags have
# no leading v.
PUBLISHED_METRICS_SERVER_IMAGE="registry.k8s.io/metrics-server/metrics-server:$METRICS_SERVER_VERSION"
PUBLISHED_KEDA_IMAGE="ghcr.io/kedacore/keda:${KEDA_VERSION#v}"
PUBLISHED_KEDA_METRICS_APISERVER_IMAGE="ghcr.io/kedacore/keda-metrics-apiserver:${KEDA_VERSION#v}"

# The ones built here. localhost/ never resolves to a registry, so nothing tries to pull these.
: "${IMAGE_PREFIX:=localhost}"
METRICS_SERVER_IMAGE="$IMAGE_PREFIX/metrics-server:$METRICS_SERVER_VERSION"
KEDA_IMAGE="$IMAGE_PREFIX/keda:$KEDA_VERSION"
KEDA_METRICS_APISERVER_IMAGE="$IMAGE_PREFIX/keda-metrics-apiserver:$KEDA_VERSION"

# Where they run. metrics-server's manifests pin kube-system; KEDA's pin keda.
METRICS_SERVER_NAMESPACE=kube-system
KEDA_NAMESPACE=keda
unset _autoscaling_dir
