# shellcheck shell=bash disable=SC2034  # variables for the scripts that source this
# shellcheck source-path=SCRIPTDIR
# Names and versions of the in-cluster monitoring stack (Prometheus Operator + Prometheus) and
# of its locally built images. Sourced by build-images.sh and install.sh; other scripts (the
# compose stack, e2e runs) source it to find the images. Each value can be overridden from the
# environment.
_monitoring_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# PROM_OPERATOR_VERSION and WHISPER_OPERATOR_CACHE are pinned once, for envtest and kind alike.
# shellcheck source=../../cluster/versions.sh
source "$_monitoring_dir/../../cluster/versions.sh"

# Prometheus, built from its Go module, whose versions are v0.3MM.P for Prometheus v3.MM.P
# (v0.305.0 is v3.5.0, the current LTS and the operator's default). Debian's 2.42 package cannot
# be used: it is built without Kubernetes service discovery.
: "${PROMETHEUS_VERSION:=v3.5.0}"
: "${PROMETHEUS_MODULE_VERSION:=v0.305.0}"

# Upstream's images, used where a registry answers (build-images.sh decides).
PUBLISHED_PROM_OPERATOR_IMAGE="quay.io/prometheus-operator/prometheus-operator:$PROM_OPERATOR_VERSION"
PUBLISHED_PROM_CONFIG_RELOADER_IMAGE="quay.io/prometheus-operator/prometheus-config-reloader:$PROM_OPERATOR_VERSION"
PUBLISHED_PROMETHEUS_IMAGE="quay.io/prometheus/prometheus:$PROMETHEUS_VERSION"

# The ones built here. localhost/ never resolves to a registry, so nothing tries to pull these.
: "${IMAGE_PREFIX:=localhost}"
PROM_OPERATOR_IMAGE="$IMAGE_PREFIX/prometheus-operator:$PROM_OPERATOR_VERSION"
PROM_CONFIG_RELOADER_IMAGE="$IMAGE_PREFIX/prometheus-config-reloader:$PROM_OPERATOR_VERSION"
PROMETHEUS_IMAGE="$IMAGE_PREFIX/prometheus:$PROMETHEUS_VERSION"

# Where the stack lives and the label its Prometheus selects ServiceMonitors and
# PrometheusRules by (in every namespace), as kube-prometheus-stack does with `release: NAME`.
MONITORING_NAMESPACE=monitoring
MONITORING_SELECTOR_KEY="release"
MONITORING_SELECTOR_VALUE="whisper-monitoring"
PROMETHEUS_SERVICE="prometheus"
unset _monitoring_dir
