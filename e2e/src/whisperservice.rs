//! WhisperServices as a user handles them: applied from the sample manifests, read back as
//! plain objects (the suite does not link the operator's types: it tests the published API).

use std::time::Duration;

use kube::Api;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::error::{E2eError, Result};
use crate::paths;
use crate::wait::{self, Check};

/// The field manager the suite applies with (the operator uses its own).
const MANAGER: &str = "whisper-e2e";

/// `whisper-operator.io/v1alpha1` WhisperService.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("whisper-operator.io", "v1alpha1", "WhisperService"),
        "whisperservices",
    )
}

/// A kind the operator creates for a WhisperService.
pub fn child(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

pub fn deployments() -> ApiResource {
    child("apps", "v1", "Deployment", "deployments")
}
pub fn services() -> ApiResource {
    child("", "v1", "Service", "services")
}
pub fn config_maps() -> ApiResource {
    child("", "v1", "ConfigMap", "configmaps")
}
pub fn service_monitors() -> ApiResource {
    child(
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
        "servicemonitors",
    )
}
pub fn prometheus_rules() -> ApiResource {
    child(
        "monitoring.coreos.com",
        "v1",
        "PrometheusRule",
        "prometheusrules",
    )
}

/// Reads `e2e/samples/FILE` as a JSON value.
pub fn load_sample(file: &str) -> Result<Value> {
    let path = paths::sample(file);
    let text = std::fs::read_to_string(&path).map_err(|source| E2eError::Io {
        what: format!("reading {}", path.display()),
        source,
    })?;
    serde_yaml::from_str(&text).map_err(|source| E2eError::Yaml {
        what: format!("parsing {}", path.display()),
        source,
    })
}

/// Handle on one WhisperService in one namespace.
pub struct WhisperServiceRef {
    pub api: Api<DynamicObject>,
    pub name: String,
    pub namespace: String,
}

impl WhisperServiceRef {
    pub fn new(cluster: &Cluster, namespace: &str, name: &str) -> WhisperServiceRef {
        WhisperServiceRef {
            api: Api::namespaced_with(cluster.client.clone(), namespace, &resource()),
            name: name.to_string(),
            namespace: namespace.to_string(),
        }
    }

    /// Server-side applies `manifest` under this name, retrying while the CRD is not yet served
    /// (helm has just installed it).
    pub async fn apply(&self, manifest: &Value) -> Result<DynamicObject> {
        let mut manifest = manifest.clone();
        manifest["metadata"]["name"] = json!(self.name);
        manifest["metadata"]["namespace"] = json!(self.namespace);
        let params = PatchParams::apply(MANAGER).force();
        wait::until(
            "the WhisperService API to accept an apply",
            Duration::from_secs(60),
            || {
                let patch = Patch::Apply(manifest.clone());
                let params = params.clone();
                async move {
                    match self.api.patch(&self.name, &params, &patch).await {
                        Ok(obj) => Ok(Check::Done(obj)),
                        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Check::NotYet(s.message)),
                        Err(e) => Err(e.into()),
                    }
                }
            },
        )
        .await
    }

    pub async fn get(&self) -> Result<DynamicObject> {
        Ok(self.api.get(&self.name).await?)
    }

    /// `kubectl scale` through the scale subresource.
    pub async fn scale(&self, replicas: i32) -> Result<()> {
        let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
        self.api
            .patch_scale(&self.name, &PatchParams::default(), &patch)
            .await?;
        Ok(())
    }

    pub async fn delete(&self) -> Result<()> {
        self.api
            .delete(&self.name, &DeleteParams::foreground())
            .await?;
        Ok(())
    }

    /// Waits until the object is gone (its finalizers, if any, have run).
    pub async fn wait_gone(&self, timeout: Duration) -> Result<()> {
        wait::until(
            &format!("WhisperService {} to be deleted", self.name),
            timeout,
            || async {
                Ok(match self.api.get_opt(&self.name).await? {
                    None => Check::Done(()),
                    Some(o) => Check::NotYet(format!("finalizers {:?}", o.metadata.finalizers)),
                })
            },
        )
        .await
    }

    /// Waits until condition `type_` has `status`, returning the object.
    pub async fn wait_condition(
        &self,
        type_: &str,
        status: &str,
        timeout: Duration,
    ) -> Result<DynamicObject> {
        wait::until(
            &format!("{type_}={status} on WhisperService {}", self.name),
            timeout,
            || async {
                let obj = self.get().await?;
                Ok(match condition(&obj.data, type_) {
                    Some(c) if c.status == status && observed_current(&obj) => Check::Done(obj),
                    _ => Check::NotYet(format!("status: {}", obj.data["status"])),
                })
            },
        )
        .await
    }

    /// Objects of `kind` in `namespace` whose owner reference points at this WhisperService.
    pub async fn owned(
        &self,
        cluster: &Cluster,
        kind: &ApiResource,
        namespace: &str,
    ) -> Result<Vec<DynamicObject>> {
        let uid = self.get().await?.metadata.uid.unwrap_or_default();
        owned_by(cluster, kind, namespace, &uid).await
    }
}

/// Objects of `kind` in `namespace` with an owner reference to `uid`.
pub async fn owned_by(
    cluster: &Cluster,
    kind: &ApiResource,
    namespace: &str,
    uid: &str,
) -> Result<Vec<DynamicObject>> {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), namespace, kind);
    let list = api.list(&ListParams::default()).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|o| {
            o.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == uid)
        })
        .collect())
}

/// Deletes `svc`, waits until it is gone, then until garbage collection has removed every child
/// it owned (Deployment, Service, ConfigMaps, ServiceMonitor, PrometheusRule).
pub async fn delete_and_wait_for_children(
    cluster: &Cluster,
    svc: &WhisperServiceRef,
) -> Result<()> {
    let uid = svc.get().await?.metadata.uid.unwrap_or_default();
    svc.delete().await?;
    svc.wait_gone(Duration::from_secs(120)).await?;
    for kind in [
        deployments(),
        services(),
        config_maps(),
        service_monitors(),
        prometheus_rules(),
    ] {
        wait::until(
            &format!("{} children of {} to be collected", kind.kind, svc.name),
            Duration::from_secs(120),
            || async {
                let left = owned_by(cluster, &kind, &svc.namespace, &uid).await?;
                Ok(if left.is_empty() {
                    Check::Done(())
                } else {
                    Check::NotYet(format!("{} left", left.len()))
                })
            },
        )
        .await?;
    }
    Ok(())
}

/// One status condition, as read from the object.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionView {
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// The condition `type_` in `.status.conditions`, if present.
pub fn condition(object: &Value, type_: &str) -> Option<ConditionView> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| ConditionView {
            status: c["status"].as_str().unwrap_or_default().to_string(),
            reason: c["reason"].as_str().unwrap_or_default().to_string(),
            message: c["message"].as_str().unwrap_or_default().to_string(),
        })
}

/// Whether the status describes the current spec (observedGeneration caught up).
pub fn observed_current(object: &DynamicObject) -> bool {
    let observed = object.data["status"]["observedGeneration"].as_i64();
    observed.is_some() && observed == object.metadata.generation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_is_found_by_type() {
        let obj = json!({"status": {"conditions": [
            {"type": "Progressing", "status": "False", "reason": "Done", "message": ""},
            {"type": "Ready", "status": "True", "reason": "AllReplicasReady", "message": "1/1 ready"}
        ]}});
        let ready = condition(&obj, "Ready").expect("present");
        assert_eq!(ready.status, "True");
        assert_eq!(ready.reason, "AllReplicasReady");
        assert!(condition(&obj, "Degraded").is_none());
        assert!(condition(&json!({}), "Ready").is_none());
    }

    #[test]
    fn samples_are_whisperservices_with_a_model() {
        for file in ["whisperservice-cpu-tiny.yaml", "whisperservice-gpu.yaml"] {
            let sample = load_sample(file).expect("sample parses");
            assert_eq!(sample["kind"], "WhisperService", "{file}");
            assert_eq!(
                sample["apiVersion"], "whisper-operator.io/v1alpha1",
                "{file}"
            );
            assert!(sample["spec"]["model"].is_string(), "{file}");
        }
        let gpu = load_sample("whisperservice-gpu.yaml").expect("parses");
        assert_eq!(gpu["spec"]["gpu"]["count"], 1);
    }
}
