//! A dashboard ConfigMap in another namespace cannot carry an owner reference, so garbage
//! collection will not remove it: a finalizer does, on delete or when it moves.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
};
use serde_json::json;
use whisper_crds::WhisperService;

use crate::{
    apply::delete_if_exists,
    build::Owner,
    error::{Error, Result},
    labels,
};

/// The namespace of the dashboard when it lives outside the service's own namespace.
fn remote_namespace(ws: &WhisperService, owner: &Owner) -> Option<String> {
    let d = &ws.spec.monitoring.dashboard;
    d.namespace
        .clone()
        .filter(|ns| d.enabled && *ns != owner.namespace)
}

/// Adds the finalizer when a remote dashboard is wanted; when it is no longer wanted, removes
/// stale remote dashboards and then the finalizer.
pub async fn sync(client: &Client, ws: &WhisperService, owner: &Owner) -> Result<()> {
    let has = ws
        .finalizers()
        .iter()
        .any(|f| f == labels::DASHBOARD_FINALIZER);
    let wanted = remote_namespace(ws, owner);
    if has {
        delete_remote_dashboards(client, owner, wanted.as_deref()).await?;
    }
    match (wanted.is_some(), has) {
        (true, false) => set_finalizer(client, ws, owner, true).await,
        (false, true) => set_finalizer(client, ws, owner, false).await,
        _ => Ok(()),
    }
}

/// On delete: removes every remote dashboard of this service, then the finalizer.
pub async fn cleanup(client: &Client, ws: &WhisperService, owner: &Owner) -> Result<()> {
    if !ws
        .finalizers()
        .iter()
        .any(|f| f == labels::DASHBOARD_FINALIZER)
    {
        return Ok(());
    }
    delete_remote_dashboards(client, owner, None).await?;
    set_finalizer(client, ws, owner, false).await
}

/// Deletes this service's dashboards outside its namespace, except in `keep`.
async fn delete_remote_dashboards(
    client: &Client,
    owner: &Owner,
    keep: Option<&str>,
) -> Result<()> {
    let all: Api<ConfigMap> = Api::all(client.clone());
    let selector = format!(
        "{}={},{}={}",
        labels::SERVICE_LABEL,
        owner.name,
        labels::SERVICE_NAMESPACE_LABEL,
        owner.namespace
    );
    let found = all
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::Read {
            kind: "ConfigMap",
            source,
        })?;
    for cm in found.items {
        let ns = cm.namespace().unwrap_or_default();
        if ns == owner.namespace || Some(ns.as_str()) == keep {
            continue;
        }
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        delete_if_exists(&api, &cm.name_any(), "ConfigMap").await?;
    }
    Ok(())
}

async fn set_finalizer(
    client: &Client,
    ws: &WhisperService,
    owner: &Owner,
    present: bool,
) -> Result<()> {
    let mut finalizers: Vec<String> = ws
        .finalizers()
        .iter()
        .filter(|f| *f != labels::DASHBOARD_FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(labels::DASHBOARD_FINALIZER.to_string());
    }
    let api: Api<WhisperService> = Api::namespaced(client.clone(), &owner.namespace);
    // A merge patch guarded by resourceVersion so a concurrent finalizer change is not lost.
    let patch = json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": ws.resource_version(),
        }
    });
    api.patch(&owner.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(Error::Finalizer)
}
