//! The WhisperService API (`whisper-operator.io/v1alpha1`): Rust types from which the CRD is
//! generated. The checked-in `crds/whisperservice.yaml` must equal [`crd_yaml`]'s output.

mod autoscaling;
mod cache;
mod gpu;
mod monitoring;
mod pod;
mod server;
mod service;
mod spec;
mod status;

pub use autoscaling::{AutoscalingSignal, AutoscalingSpec};
pub use cache::{EmptyDirCache, ModelCacheSpec, PvcCache};
pub use gpu::GpuSpec;
pub use monitoring::{AlertsSpec, DashboardSpec, MonitoringSpec, ServiceMonitorSpec};
pub use pod::PodOverrides;
pub use server::{ApiKeySecret, Chunking, ServerSpec};
pub use service::{ServicePortSpec, ServiceType};
pub use spec::{WhisperService, WhisperServiceSpec};
pub use status::{ConditionType, WhisperServiceStatus};

use kube::CustomResourceExt;

/// The API group this project owns.
pub const GROUP: &str = "whisper-operator.io";
/// The only served version.
pub const VERSION: &str = "v1alpha1";

/// The CustomResourceDefinition as YAML, exactly as checked in under `crds/`.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&WhisperService::crd())
}
