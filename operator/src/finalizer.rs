//! The dashboard finalizer: a dashboard ConfigMap in another namespace cannot carry an owner
//! reference, so garbage collection will not remove it; this does, on delete or when it moves.
//! What the dashboard is and how its copies are found lives in `build/dashboard.rs`.
//!
//! Finding stale copies takes a cluster-wide list, so it runs only when one can exist: when the
//! finalizer is about to go, on delete, and once per generation of a WhisperService that keeps
//! a remote dashboard (a move to another namespace is a spec change, hence a new generation).

use std::{collections::HashMap, sync::Mutex};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
};
use serde_json::json;
use whisper_crds::WhisperService;

use crate::{
    apply::delete_if_exists,
    build::{DASHBOARD_FINALIZER, Owner, copies_selector},
    context::Context,
    error::{Error, Result},
};

/// The generation of each WhisperService (by uid) whose stale remote dashboards were last
/// removed by this process.
#[derive(Default)]
pub struct Swept(Mutex<HashMap<String, i64>>);

impl Swept {
    fn is_current(&self, ws: &WhisperService) -> bool {
        let swept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ws.uid()
            .and_then(|uid| swept.get(&uid).copied())
            .is_some_and(|g| Some(g) == ws.metadata.generation)
    }

    fn record(&self, ws: &WhisperService) {
        let mut swept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(uid), Some(generation)) = (ws.uid(), ws.metadata.generation) {
            swept.insert(uid, generation);
        }
    }

    fn forget(&self, ws: &WhisperService) {
        let mut swept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(uid) = ws.uid() {
            swept.remove(&uid);
        }
    }
}

fn has_finalizer(ws: &WhisperService) -> bool {
    ws.finalizers().iter().any(|f| f == DASHBOARD_FINALIZER)
}

/// Adds the finalizer when a dashboard in `remote` namespace is wanted; removes this service's
/// dashboards in other namespaces than `remote`, then the finalizer when none is wanted.
pub async fn sync(
    ctx: &Context,
    ws: &WhisperService,
    owner: &Owner,
    remote: Option<&str>,
) -> Result<()> {
    let has = has_finalizer(ws);
    if has && (remote.is_none() || !ctx.swept.is_current(ws)) {
        delete_remote_dashboards(&ctx.client, owner, remote).await?;
        ctx.swept.record(ws);
    }
    match (remote.is_some(), has) {
        (true, false) => set_finalizer(&ctx.client, ws, owner, true).await,
        (false, true) => {
            set_finalizer(&ctx.client, ws, owner, false).await?;
            ctx.swept.forget(ws);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// On delete: removes every remote dashboard of this service, then the finalizer.
pub async fn cleanup(ctx: &Context, ws: &WhisperService, owner: &Owner) -> Result<()> {
    if !has_finalizer(ws) {
        return Ok(());
    }
    delete_remote_dashboards(&ctx.client, owner, None).await?;
    set_finalizer(&ctx.client, ws, owner, false).await?;
    ctx.swept.forget(ws);
    Ok(())
}

/// Deletes this service's dashboards outside its namespace, except in `keep`.
async fn delete_remote_dashboards(
    client: &Client,
    owner: &Owner,
    keep: Option<&str>,
) -> Result<()> {
    let all: Api<ConfigMap> = Api::all(client.clone());
    let found = all
        .list_metadata(&ListParams::default().labels(&copies_selector(owner)))
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
        .filter(|f| *f != DASHBOARD_FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(DASHBOARD_FINALIZER.to_string());
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
