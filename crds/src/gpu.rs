//! GPU requests and the placement that goes with them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// GPUs per replica and where GPU pods may run.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GpuSpec {
    /// GPUs per replica (requests and limits).
    #[serde(default = "default_count")]
    #[schemars(range(min = 1, max = 16))]
    pub count: i32,

    /// Extended resource name of the GPU.
    #[serde(default = "default_resource_name")]
    #[schemars(length(min = 1, max = 253))]
    pub resource_name: String,

    /// Node labels GPU pods require; defaults to nvidia.com/gpu.present=true.
    #[serde(default = "default_node_selector")]
    pub node_selector: BTreeMap<String, String>,

    /// Tolerations added to the default one for the nvidia.com/gpu NoSchedule taint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// RuntimeClass of GPU pods (for example "nvidia").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub runtime_class_name: Option<String>,
}

/// The taint key GPU nodes carry and the resource they advertise.
pub const DEFAULT_GPU_RESOURCE: &str = "nvidia.com/gpu";

fn default_count() -> i32 {
    1
}
fn default_resource_name() -> String {
    DEFAULT_GPU_RESOURCE.to_string()
}
fn default_node_selector() -> BTreeMap<String, String> {
    BTreeMap::from([("nvidia.com/gpu.present".to_string(), "true".to_string())])
}
