//! The volume that holds the downloaded model.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Model cache volume: an emptyDir per pod (default) or an existing PersistentVolumeClaim shared
/// by the pods (needs ReadWriteMany when replicas > 1).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("!(has(self.emptyDir) && has(self.persistentVolumeClaim))").message("spec.modelCache takes either emptyDir or persistentVolumeClaim, not both"))]
#[serde(rename_all = "camelCase")]
pub struct ModelCacheSpec {
    /// A per-pod scratch volume; the model is downloaded again when a pod starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirCache>,
    /// An existing PersistentVolumeClaim; the model is downloaded once and verified on each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PvcCache>,
}

/// emptyDir settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDirCache {
    /// Upper bound of the volume's size (for example 2Gi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<Quantity>,
}

/// A PersistentVolumeClaim in the WhisperService's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PvcCache {
    /// Name of the claim.
    #[schemars(length(min = 1, max = 253))]
    pub claim_name: String,
}

impl Default for ModelCacheSpec {
    fn default() -> Self {
        Self {
            empty_dir: Some(EmptyDirCache::default()),
            persistent_volume_claim: None,
        }
    }
}
