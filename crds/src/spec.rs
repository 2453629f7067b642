//! The top-level spec: everything but the model is optional with a safe default.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::{
    AutoscalingSpec, GpuSpec, ModelCacheSpec, MonitoringSpec, PodOverrides, ServerSpec,
    ServicePortSpec, WhisperServiceStatus,
};

/// A Whisper transcription service: a Deployment of whisper-server with its Service, and
/// optionally an HPA, a ServiceMonitor, a PrometheusRule and a Grafana dashboard.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "whisper-operator.io",
    version = "v1alpha1",
    kind = "WhisperService",
    plural = "whisperservices",
    shortname = "ws",
    category = "all",
    namespaced,
    doc = "WhisperService runs an OpenAI-compatible Whisper transcription server (whisper.cpp) for one model.",
    status = "WhisperServiceStatus",
    derive = "PartialEq",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    validation = Rule::new("size(self.metadata.name) <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS-1035 label (at most 63 lowercase letters, digits or '-', starting with a letter and not ending with '-'): it names the Service"),
    // Raw JSON columns: the structured form repeats keys, which clippy flags as duplicates.
    printcolumn = r#"{"name":"Model", "type":"string", "jsonPath":".spec.model", "description":"The Whisper model served"}"#,
    printcolumn = r#"{"name":"Replicas", "type":"integer", "jsonPath":".spec.replicas", "description":"Desired replicas"}"#,
    printcolumn = r#"{"name":"Ready", "type":"integer", "jsonPath":".status.readyReplicas", "description":"Replicas ready to serve"}"#,
    printcolumn = r#"{"name":"Status", "type":"string", "jsonPath":".status.conditions[?(@.type==\"Ready\")].reason", "description":"Reason of the Ready condition"}"#,
    printcolumn = r#"{"name":"GPUs", "type":"integer", "jsonPath":".spec.gpu.count", "description":"GPUs per replica", "priority":1}"#,
    printcolumn = r#"{"name":"Endpoint", "type":"string", "jsonPath":".status.endpoint", "description":"In-cluster URL of the OpenAI-compatible API", "priority":1}"#,
    printcolumn = r#"{"name":"Age", "type":"date", "jsonPath":".metadata.creationTimestamp"}"#,
)]
#[x_kube(validation = Rule::new("!(self.model.startsWith('https://') || self.model.startsWith('http://')) || has(self.modelSha256)").message("spec.modelSha256 is required when spec.model is a URL, so the download can be verified"))]
#[x_kube(validation = Rule::new("!has(self.modelSha256) || self.model.startsWith('https://') || self.model.startsWith('http://')").message("spec.modelSha256 applies only to a model URL; catalogue models carry their own checksum"))]
#[x_kube(validation = Rule::new("!has(self.resources) || !has(self.resources.requests) || !('cpu' in self.resources.requests)").message("spec.resources.requests.cpu is derived from spec.server.threads; set spec.server.threads instead"))]
#[serde(rename_all = "camelCase")]
pub struct WhisperServiceSpec {
    /// The model to serve: a catalogue name (tiny.en, base, large-v3-turbo) or an http(s) URL
    /// of a ggml model file, which then needs modelSha256.
    #[schemars(length(min = 1, max = 2048))]
    pub model: String,

    /// SHA-256 (64 lowercase hex digits) of the model file at the spec.model URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub model_sha256: Option<String>,

    /// Number of server pods. Scaled by `kubectl scale` and by the HPA when autoscaling is set.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,

    /// Server container image; defaults to the whisper-server image of the operator's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,

    /// Memory and other resources of the server container. CPU requests come from
    /// spec.server.threads and GPU requests from spec.gpu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,

    /// GPUs per replica, and where GPU pods may run. Absent means CPU-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuSpec>,

    /// Settings of whisper-server itself.
    #[serde(default)]
    pub server: ServerSpec,

    /// Where the init container stores the downloaded model.
    #[serde(default)]
    pub model_cache: ModelCacheSpec,

    /// Horizontal autoscaling on CPU or on requests in flight; creates a HorizontalPodAutoscaler
    /// or a KEDA ScaledObject that scales this WhisperService.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,

    /// ServiceMonitor, alert rules and Grafana dashboard for this service.
    #[serde(default)]
    pub monitoring: MonitoringSpec,

    /// The Kubernetes Service in front of the pods.
    #[serde(default)]
    pub service: ServicePortSpec,

    /// Extra pod metadata and scheduling settings.
    #[serde(default)]
    pub pod: PodOverrides,
}

fn default_replicas() -> i32 {
    1
}
