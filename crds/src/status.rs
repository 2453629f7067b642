//! What the operator observed, written to the status subresource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a WhisperService.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct WhisperServiceStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Server pods that exist (the scale subresource's status replicas).
    #[serde(default)]
    pub replicas: i32,
    /// Server pods ready to serve.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Label selector of the server pods, for the scale subresource and the HPA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// In-cluster base URL of the OpenAI-compatible API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Ready, Progressing, Degraded, MonitoringReady and AutoscalingReady.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// The condition types this operator writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    /// Every replica is ready and the Service has endpoints to send traffic to.
    Ready,
    /// A rollout or scale-up is under way.
    Progressing,
    /// Something needs attention: an invalid spec, pods that cannot be scheduled, failed applies.
    Degraded,
    /// ServiceMonitor and PrometheusRule are in place (or monitoring is switched off).
    MonitoringReady,
    /// The autoscaler the spec asks for is in place (or autoscaling is off).
    AutoscalingReady,
}

impl ConditionType {
    /// The condition's `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Ready => "Ready",
            ConditionType::Progressing => "Progressing",
            ConditionType::Degraded => "Degraded",
            ConditionType::MonitoringReady => "MonitoringReady",
            ConditionType::AutoscalingReady => "AutoscalingReady",
        }
    }
}
