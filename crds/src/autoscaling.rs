//! Horizontal autoscaling bounds and target.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Creates a HorizontalPodAutoscaler that scales this WhisperService through its scale
/// subresource.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self.maxReplicas >= self.minReplicas").message("spec.autoscaling.maxReplicas must be at least spec.autoscaling.minReplicas"))]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingSpec {
    /// Fewest replicas.
    #[serde(default = "default_min")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,
    /// Most replicas.
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    /// Average CPU utilisation (percent of the requested CPUs) the HPA aims for.
    #[serde(default = "default_target")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percent: i32,
}

fn default_min() -> i32 {
    1
}
fn default_target() -> i32 {
    80
}
