//! Pure builders: one function per child object, each a function of the WhisperService alone.

mod dashboard;
mod deployment;
mod hpa;
mod prometheus_rule;
mod service;
mod service_monitor;

pub use dashboard::dashboard_config_map;
pub use deployment::{FETCH_MODEL_CONTAINER, SERVER_CONTAINER, deployment};
pub use hpa::hpa;
pub use prometheus_rule::prometheus_rule;
pub use service::service;
pub use service_monitor::service_monitor;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};
use whisper_crds::WhisperService;

use crate::{
    error::{Error, Result},
    labels,
};

/// Name, namespace and owner reference every same-namespace child shares.
#[derive(Clone, Debug)]
pub struct Owner {
    pub name: String,
    pub namespace: String,
    pub owner_ref: OwnerReference,
}

impl Owner {
    /// Reads what the builders need from the object's metadata.
    pub fn of(ws: &WhisperService) -> Result<Self> {
        let namespace = ws
            .namespace()
            .ok_or(Error::MissingField("metadata.namespace"))?;
        let owner_ref = ws
            .controller_owner_ref(&())
            .ok_or(Error::MissingField("metadata.uid"))?;
        Ok(Self {
            name: ws.name_any(),
            namespace,
            owner_ref,
        })
    }

    /// Metadata of a child named `name` in the owner's namespace, owned by it.
    pub fn child_meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels::common_labels(&self.name)),
            owner_references: Some(vec![self.owner_ref.clone()]),
            ..ObjectMeta::default()
        }
    }
}
