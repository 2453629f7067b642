//! Stage 3 of a reconcile: puts [`Children`] on the API server and reports what that gave.
//! Thin on purpose: server-side apply with one field manager for each wanted child, a delete
//! for each unwanted one, and nothing decided here that `build` could decide.

use std::fmt::Debug;

use k8s_openapi::api::{
    apps::v1::Deployment,
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{ConfigMap, Service},
    policy::v1::PodDisruptionBudget,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, DynamicObject, Patch, PatchParams},
    core::ApiResource,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use whisper_crds::WhisperService;

use crate::{
    build::{Autoscaler, Children, Dashboard, Owner},
    context::Context,
    error::{Error, Result},
    finalizer,
    labels::MANAGER,
    wake::ChildKey,
};

/// What applying the children gave: the inputs of the status stage besides the pods.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The Deployment as the API server stored it; its status tells how the rollout goes.
    pub deployment: Deployment,
    pub monitoring: Monitoring,
    pub autoscaling: Autoscaling,
}

/// What scales the service, as applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Autoscaling {
    /// No autoscaling: replicas are what spec.replicas says.
    Disabled,
    /// A HorizontalPodAutoscaler on CPU.
    Cpu,
    /// A KEDA ScaledObject on requests in flight.
    InFlight,
    /// Signal InFlight asked for, but the cluster does not serve keda.sh/v1alpha1 ScaledObject:
    /// the CPU HPA stands in.
    KedaMissing,
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

/// Applies every wanted child and removes every unwanted one. The children do not depend on one
/// another, so these go concurrently: the Deployment, the Service, the autoscaler
/// (HorizontalPodAutoscaler, then ScaledObject), the PodDisruptionBudget, the dashboard (its
/// finalizer first, then the ConfigMap) and the monitoring objects (ServiceMonitor, then
/// PrometheusRule). Every one is tried even when another fails; the first failure in that list
/// is returned, and the children that did not fail stay applied.
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
        autoscaler,
        disruption_budget,
        dashboard,
        service_monitor,
        prometheus_rule,
    } = children;
    let client = &ctx.client;
    let ns = owner.namespace.as_str();
    let at = |kind| ChildKey::new(kind, ns, &owner.name);
    // `join!`, not `try_join!`: a child cancelled mid-apply would leave its write open in the
    // ledger for good (so edits by others would no longer wake the service), and which failure
    // is reported would depend on timing.
    let (deployment, service, autoscaling, disruption_budget, dashboard, monitoring) = tokio::join!(
        async {
            let api = Api::<Deployment>::namespaced(client.clone(), ns);
            put(ctx, &api, &at("Deployment"), &deployment).await
        },
        async {
            let api = Api::<Service>::namespaced(client.clone(), ns);
            put_unless_current(ctx, &api, &at("Service"), &service).await
        },
        apply_autoscaler(ctx, owner, autoscaler),
        async {
            let api = Api::<PodDisruptionBudget>::namespaced(client.clone(), ns);
            let at = at("PodDisruptionBudget");
            put_or_delete(ctx, &api, &at, disruption_budget.as_ref()).await
        },
        apply_dashboard(ctx, ws, owner, dashboard),
        apply_monitoring(ctx, owner, service_monitor, prometheus_rule),
    );
    let deployment = deployment?;
    service?;
    let autoscaling = autoscaling?;
    disruption_budget?;
    dashboard?;
    let monitoring = monitoring?;
    Ok(Applied {
        deployment,
        monitoring,
        autoscaling,
    })
}

/// Puts the autoscaler that the cluster can run in place and removes the other one.
async fn apply_autoscaler(
    ctx: &Context,
    owner: &Owner,
    autoscaler: Option<Autoscaler>,
) -> Result<Autoscaling> {
    let ns = owner.namespace.as_str();
    let keda = ctx.discovery.scaled_object().await?;
    let (hpa, scaled_object, outcome) = choose_autoscaler(autoscaler, keda.is_some());
    put_or_delete(
        ctx,
        &Api::<HorizontalPodAutoscaler>::namespaced(ctx.client.clone(), ns),
        &ChildKey::new("HorizontalPodAutoscaler", ns, &owner.name),
        hpa.as_ref(),
    )
    .await?;
    if let Some(resource) = keda {
        put_or_delete(
            ctx,
            &Api::<DynamicObject>::namespaced_with(ctx.client.clone(), ns, &resource),
            &ChildKey::new("ScaledObject", ns, &owner.name),
            scaled_object.as_ref(),
        )
        .await?;
    }
    Ok(outcome)
}

/// Which autoscaler objects to have, given whether the cluster serves KEDA.
fn choose_autoscaler(
    autoscaler: Option<Autoscaler>,
    keda_served: bool,
) -> (Option<HorizontalPodAutoscaler>, Option<Value>, Autoscaling) {
    match autoscaler {
        None => (None, None, Autoscaling::Disabled),
        Some(Autoscaler {
            cpu,
            in_flight: None,
        }) => (Some(cpu), None, Autoscaling::Cpu),
        Some(Autoscaler {
            in_flight: Some(scaled_object),
            ..
        }) if keda_served => (None, Some(scaled_object), Autoscaling::InFlight),
        Some(Autoscaler { cpu, .. }) => (Some(cpu), None, Autoscaling::KedaMissing),
    }
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
        let name = cm.name_any();
        put_unless_current(ctx, &api, &ChildKey::new("ConfigMap", &ns, &name), &cm).await?;
    }
    if let Some(name) = stale_local {
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &owner.namespace);
        let at = ChildKey::new("ConfigMap", &owner.namespace, &name);
        delete_unless_absent(ctx, &api, &at).await?;
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
    let Some(kinds) = ctx.discovery.monitoring().await? else {
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
        ctx,
        &dynamic(&kinds.service_monitor),
        &ChildKey::new("ServiceMonitor", &owner.namespace, &owner.name),
        service_monitor.as_ref(),
    )
    .await?;
    put_or_delete(
        ctx,
        &dynamic(&kinds.prometheus_rule),
        &ChildKey::new("PrometheusRule", &owner.namespace, &owner.name),
        prometheus_rule.as_ref(),
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
/// returns what the API server stored. The ledger hears of the write before it is sent (so its
/// watch echo wakes nobody) and of what it stored; the metrics count whether it changed anything.
async fn put<K, P>(ctx: &Context, api: &Api<K>, at: &ChildKey, obj: &P) -> Result<K>
where
    K: Clone + DeserializeOwned + Debug + Resource,
    P: Serialize + Debug,
{
    put_fingerprinted(ctx, api, at, obj, fingerprint(obj)).await
}

async fn put_fingerprinted<K, P>(
    ctx: &Context,
    api: &Api<K>,
    at: &ChildKey,
    obj: &P,
    sent: u64,
) -> Result<K>
where
    K: Clone + DeserializeOwned + Debug + Resource,
    P: Serialize + Debug,
{
    let before = ctx.ledger.begin_write(at);
    let result = api.patch(&at.name, &params(), &Patch::Apply(obj)).await;
    let stored = result
        .as_ref()
        .ok()
        .map(|o| (o.meta().resource_version.clone(), o.meta().generation));
    ctx.ledger.end_write(at, sent, stored.clone());
    if let Some((after, _)) = stored {
        let outcome = if before.is_some() && before == after {
            "unchanged"
        } else {
            "changed"
        };
        count(ctx, at.kind, outcome);
    }
    result.map_err(|source| Error::Apply {
        kind: at.kind,
        source,
    })
}

/// [`put`], skipped (no request at all) when the ledger says the same object was applied and
/// nobody has changed the child since. For children whose stored copy is not needed.
async fn put_unless_current<K, P>(ctx: &Context, api: &Api<K>, at: &ChildKey, obj: &P) -> Result<()>
where
    K: Clone + DeserializeOwned + Debug + Resource,
    P: Serialize + Debug,
{
    let sent = fingerprint(obj);
    if ctx.ledger.is_current(at, sent) {
        count(ctx, at.kind, "skipped");
        return Ok(());
    }
    put_fingerprinted(ctx, api, at, obj, sent).await.map(drop)
}

fn count(ctx: &Context, kind: &str, outcome: &str) {
    ctx.metrics
        .applies
        .with_label_values(&[kind, outcome])
        .inc();
}

/// A hash of the object as it is sent.
fn fingerprint<P: Serialize>(obj: &P) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&serde_json::to_vec(obj).unwrap_or_default(), &mut hasher);
    std::hash::Hasher::finish(&hasher)
}

/// Applies `desired` when it is wanted, deletes `name` when it is not.
async fn put_or_delete<K, P>(
    ctx: &Context,
    api: &Api<K>,
    at: &ChildKey,
    desired: Option<&P>,
) -> Result<()>
where
    K: Clone + DeserializeOwned + Debug + Resource,
    P: Serialize + Debug,
{
    match desired {
        Some(obj) => put_unless_current(ctx, api, at, obj).await,
        None => delete_unless_absent(ctx, api, at).await,
    }
}

/// Deletes the child at `at`, unless the ledger knows it does not exist (no request then).
async fn delete_unless_absent<K>(ctx: &Context, api: &Api<K>, at: &ChildKey) -> Result<()>
where
    K: Clone + DeserializeOwned + Debug,
{
    if ctx.ledger.is_absent(at) {
        return Ok(());
    }
    delete_if_exists(api, &at.name, at.kind).await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn autoscaler(in_flight: bool) -> Autoscaler {
        Autoscaler {
            cpu: HorizontalPodAutoscaler::default(),
            in_flight: in_flight.then(|| serde_json::json!({"kind": "ScaledObject"})),
        }
    }

    fn chosen(autoscaler: Option<Autoscaler>, keda_served: bool) -> (bool, bool, Autoscaling) {
        let (hpa, scaled_object, outcome) = choose_autoscaler(autoscaler, keda_served);
        (hpa.is_some(), scaled_object.is_some(), outcome)
    }

    #[test]
    fn in_flight_runs_on_keda_where_served_and_on_cpu_where_not() {
        assert_eq!(chosen(None, true), (false, false, Autoscaling::Disabled));
        assert_eq!(
            chosen(Some(autoscaler(false)), true),
            (true, false, Autoscaling::Cpu)
        );
        assert_eq!(
            chosen(Some(autoscaler(false)), false),
            (true, false, Autoscaling::Cpu)
        );
        assert_eq!(
            chosen(Some(autoscaler(true)), true),
            (false, true, Autoscaling::InFlight)
        );
        assert_eq!(
            chosen(Some(autoscaler(true)), false),
            (true, false, Autoscaling::KedaMissing)
        );
    }
}
