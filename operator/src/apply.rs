//! Stage 3 of a reconcile: puts [`Children`] on the API server and reports what that gave.
//! Thin on purpose: server-side apply with one field manager for each wanted child, a delete
//! for each unwanted one, and nothing decided here that `build` could decide.

use std::fmt::Debug;

use k8s_openapi::api::{
    apps::v1::Deployment,
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{ConfigMap, Service},
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, DynamicObject, Patch, PatchParams},
    core::ApiResource,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use whisper_crds::WhisperService;

use crate::{
    build::{Children, Dashboard, Owner},
    context::Context,
    error::{Error, Result},
    finalizer,
    labels::MANAGER,
};

/// What applying the children gave: the inputs of the status stage besides the pods.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The Deployment as the API server stored it; its status tells how the rollout goes.
    pub deployment: Deployment,
    pub monitoring: Monitoring,
}

/// Whether the monitoring kinds could be put in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Monitoring {
    /// ServiceMonitor and PrometheusRule both switched off.
    Disabled,
    /// Everything asked for is applied.
    Applied,
    /// The cluster does not serve monitoring.coreos.com/v1 ServiceMonitor/PrometheusRule.
    CrdsMissing,
}

/// Applies every wanted child and removes every unwanted one, in this order: Deployment,
/// Service, HorizontalPodAutoscaler, dashboard, ServiceMonitor, PrometheusRule. Stops at the
/// first failure.
pub async fn children(
    ctx: &Context,
    ws: &WhisperService,
    owner: &Owner,
    children: Children,
) -> Result<Applied> {
    // No `..`: a child added to `Children` must be applied here, or this does not compile.
    let Children {
        deployment,
        service,
        hpa,
        dashboard,
        service_monitor,
        prometheus_rule,
    } = children;
    let client = &ctx.client;
    let ns = owner.namespace.as_str();
    let deployment = put(
        &Api::<Deployment>::namespaced(client.clone(), ns),
        &owner.name,
        &deployment,
        "Deployment",
    )
    .await?;
    put(
        &Api::<Service>::namespaced(client.clone(), ns),
        &owner.name,
        &service,
        "Service",
    )
    .await?;
    put_or_delete(
        &Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns),
        &owner.name,
        hpa.as_ref(),
        "HorizontalPodAutoscaler",
    )
    .await?;
    apply_dashboard(ctx, ws, owner, dashboard).await?;
    let monitoring = apply_monitoring(ctx, owner, service_monitor, prometheus_rule).await?;
    Ok(Applied {
        deployment,
        monitoring,
    })
}

async fn apply_dashboard(
    ctx: &Context,
    ws: &WhisperService,
    owner: &Owner,
    dashboard: Dashboard,
) -> Result<()> {
    let Dashboard {
        config_map,
        stale_local,
        remote_namespace,
    } = dashboard;
    // The finalizer is in place before a dashboard goes where garbage collection cannot follow.
    finalizer::sync(ctx, ws, owner, remote_namespace.as_deref()).await?;
    if let Some(cm) = config_map {
        let ns = cm.namespace().unwrap_or_else(|| owner.namespace.clone());
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
        put(&api, &cm.name_any(), &cm, "ConfigMap").await?;
    }
    if let Some(name) = stale_local {
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &owner.namespace);
        delete_if_exists(&api, &name, "ConfigMap").await?;
    }
    Ok(())
}

/// Applies the monitoring.coreos.com objects when the cluster serves their kinds. When both are
/// off, leftovers from when they were on are removed (if the kinds exist).
async fn apply_monitoring(
    ctx: &Context,
    owner: &Owner,
    service_monitor: Option<Value>,
    prometheus_rule: Option<Value>,
) -> Result<Monitoring> {
    let wanted = service_monitor.is_some() || prometheus_rule.is_some();
    let Some(kinds) = ctx.discovery.kinds().await? else {
        return Ok(if wanted {
            Monitoring::CrdsMissing
        } else {
            Monitoring::Disabled
        });
    };
    let dynamic = |resource: &ApiResource| -> Api<DynamicObject> {
        Api::namespaced_with(ctx.client.clone(), &owner.namespace, resource)
    };
    put_or_delete(
        &dynamic(&kinds.service_monitor),
        &owner.name,
        service_monitor.as_ref(),
        "ServiceMonitor",
    )
    .await?;
    put_or_delete(
        &dynamic(&kinds.prometheus_rule),
        &owner.name,
        prometheus_rule.as_ref(),
        "PrometheusRule",
    )
    .await?;
    Ok(if wanted {
        Monitoring::Applied
    } else {
        Monitoring::Disabled
    })
}

fn params() -> PatchParams {
    // force: this operator is the only intended writer of the fields it sets.
    PatchParams::apply(MANAGER).force()
}

/// Server-side applies `obj` (a typed object, or JSON for a kind known only at run time);
/// returns what the API server stored.
async fn put<K, P>(api: &Api<K>, name: &str, obj: &P, kind: &'static str) -> Result<K>
where
    K: Clone + DeserializeOwned + Debug,
    P: Serialize + Debug,
{
    api.patch(name, &params(), &Patch::Apply(obj))
        .await
        .map_err(|source| Error::Apply { kind, source })
}

/// Applies `desired` when it is wanted, deletes `name` when it is not.
async fn put_or_delete<K, P>(
    api: &Api<K>,
    name: &str,
    desired: Option<&P>,
    kind: &'static str,
) -> Result<()>
where
    K: Clone + DeserializeOwned + Debug,
    P: Serialize + Debug,
{
    match desired {
        Some(obj) => put(api, name, obj, kind).await.map(drop),
        None => delete_if_exists(api, name, kind).await,
    }
}

/// Deletes `name` if it exists.
pub async fn delete_if_exists<K>(api: &Api<K>, name: &str, kind: &'static str) -> Result<()>
where
    K: Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(source) => Err(Error::Delete { kind, source }),
    }
}
