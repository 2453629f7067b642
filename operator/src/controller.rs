//! Wiring: the kube-runtime Controller watching WhisperServices, their children and their pods,
//! each watch filtered by `wake` to the changes worth a reconcile.

use std::{future::Future, sync::Arc, time::Instant};

use futures::{StreamExt, future::join_all};
use k8s_openapi::api::{
    apps::v1::Deployment,
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{ConfigMap, Pod, Service},
    policy::v1::PodDisruptionBudget,
};
use kube::{
    Api, Client, ResourceExt,
    api::DynamicObject,
    core::PartialObjectMeta,
    runtime::{
        Controller, PredicateConfig, WatchStreamExt,
        controller::{Action, Config as ControllerConfig},
        predicates,
        reflector::{self, ObjectRef, reflector},
        watcher,
    },
};
use whisper_crds::WhisperService;

use crate::{
    config::Config,
    context::Context,
    error::Error,
    labels::{self, MANAGER},
    metrics::Metrics,
    reconcile::reconcile,
    wake,
};

/// Runs the controller until it stops (it only stops when the watches end).
pub async fn run_controller(client: Client, config: Config) {
    run_controller_until(client, config, Metrics::new().ok(), std::future::pending()).await
}

/// Runs the controller until `shutdown` resolves, letting in-flight reconciles finish.
/// `metrics` is where reconciliations are counted (fresh ones when `None`).
pub async fn run_controller_until(
    client: Client,
    config: Config,
    metrics: Option<Metrics>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let metrics = match metrics.map(Ok).unwrap_or_else(Metrics::new) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "cannot register metrics");
            return;
        }
    };
    let ctx = Arc::new(Context::new(client.clone(), config.clone(), metrics));
    let shutdown = futures::future::FutureExt::shared(Box::pin(shutdown));
    let scopes: Vec<Option<String>> = if config.namespaces.is_empty() {
        vec![None]
    } else {
        config.namespaces.iter().cloned().map(Some).collect()
    };
    let runs = scopes
        .into_iter()
        .map(|ns| run_scope(client.clone(), ns, ctx.clone(), shutdown.clone()));
    join_all(runs).await;
}

/// A change that never matters beyond the object's existence and spec.
fn quiet<K>(_: &K) -> u64 {
    0
}

fn api_for<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// A child kind of which only the metadata matters (its deletion, someone else's edit): watched
/// as metadata, filtered through the ledger.
fn metadata_changes<K>(
    client: &Client,
    namespace: Option<&str>,
    managed: &watcher::Config,
    ledger: &Arc<wake::Ledger>,
    kind: &'static str,
) -> impl futures::Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + use<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    PartialObjectMeta<K>:
        kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    wake::child_changes(
        watcher(
            api_for::<PartialObjectMeta<K>>(client, namespace),
            managed.clone(),
        ),
        ledger.clone(),
        kind,
        quiet,
    )
}

async fn run_scope(
    client: Client,
    namespace: Option<String>,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let ns = namespace.as_deref();
    let managed =
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER}"));
    let pods = watcher::Config::default().labels(labels::SERVICE_LABEL);
    let ledger = &ctx.ledger;
    let (reader, writer) = reflector::store();
    // The store keeps every WhisperService; their managedFields are dropped, nothing reads them.
    // A new generation: a spec change, or the deletion mark (which bumps it); status writes
    // leave it alone.
    let services = reflector(
        writer,
        watcher(
            api_for::<WhisperService>(&client, ns),
            watcher::Config::default().any_semantic(),
        )
        .modify(|ws| ws.managed_fields_mut().clear()),
    )
    .applied_objects()
    .predicate_filter(predicates::generation, PredicateConfig::default());
    let mut controller = Controller::for_stream(services, reader)
        .with_config(ControllerConfig::default().concurrency(ctx.config.concurrency))
        .owns_stream(wake::child_changes(
            watcher(api_for::<Deployment>(&client, ns), managed.clone()),
            ledger.clone(),
            "Deployment",
            wake::signal::deployment,
        ))
        .owns_stream(metadata_changes::<Service>(
            &client, ns, &managed, ledger, "Service",
        ))
        .owns_stream(metadata_changes::<HorizontalPodAutoscaler>(
            &client,
            ns,
            &managed,
            ledger,
            "HorizontalPodAutoscaler",
        ))
        .owns_stream(metadata_changes::<PodDisruptionBudget>(
            &client,
            ns,
            &managed,
            ledger,
            "PodDisruptionBudget",
        ))
        .owns_stream(metadata_changes::<ConfigMap>(
            &client,
            ns,
            &managed,
            ledger,
            "ConfigMap",
        ))
        // Pods explain a stuck rollout (unschedulable, downloading, crash-looping); their owner
        // is the ReplicaSet, so they are mapped back to the service through its label.
        .watches_stream(
            wake::pod_changes(
                watcher(api_for::<Pod>(&client, ns), pods),
                ctx.pod_board.clone(),
            ),
            |pod: Pod| {
                let name = pod.labels().get(labels::SERVICE_LABEL)?.clone();
                Some(ObjectRef::new(&name).within(&pod.namespace()?))
            },
        );
    // The optional kinds are watched when the cluster served them at start; installed later,
    // they are still applied, and repaired on the resync.
    let mut optional = Vec::new();
    if let Ok(Some(kinds)) = ctx.discovery.monitoring().await {
        optional.push(("ServiceMonitor", kinds.service_monitor));
        optional.push(("PrometheusRule", kinds.prometheus_rule));
    }
    if let Ok(Some(resource)) = ctx.discovery.scaled_object().await {
        optional.push(("ScaledObject", resource));
    }
    for (kind, resource) in optional {
        let api = match ns {
            Some(ns) => Api::<PartialObjectMeta<DynamicObject>>::namespaced_with(
                client.clone(),
                ns,
                &resource,
            ),
            None => Api::<PartialObjectMeta<DynamicObject>>::all_with(client.clone(), &resource),
        };
        controller = controller.owns_stream_with(
            wake::child_changes(watcher(api, managed.clone()), ledger.clone(), kind, quiet),
            resource,
        );
    }
    controller
        .graceful_shutdown_on(shutdown)
        .run(timed_reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                // Reconcile errors are counted in error_policy; these are watch/queue errors.
                tracing::warn!(error = %e, "controller stream error");
            }
        })
        .await;
}

async fn timed_reconcile(ws: Arc<WhisperService>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.metrics.reconciliations.inc();
    let started = Instant::now();
    let result = reconcile(ws.clone(), ctx.clone()).await;
    let outcome = if result.is_ok() { "success" } else { "error" };
    ctx.metrics
        .duration
        .with_label_values(&[outcome])
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok() {
        ctx.reset_backoff(&ObjectRef::from(ws.as_ref()));
    }
    result
}

fn error_policy(ws: Arc<WhisperService>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics
        .failures
        .with_label_values(&[error.category()])
        .inc();
    let delay = ctx.next_backoff(ObjectRef::from(ws.as_ref()));
    tracing::warn!(
        name = %ws.name_any(),
        namespace = ws.namespace().unwrap_or_default(),
        category = error.category(),
        error = %error,
        retry_in_s = delay.as_secs(),
        "reconcile failed"
    );
    Action::requeue(delay)
}
