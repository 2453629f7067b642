//! One reconciliation: validate → build every child → apply → status from what the cluster shows.

use std::{sync::Arc, time::Duration};

use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        autoscaling::v2::HorizontalPodAutoscaler,
        core::v1::{ConfigMap, Pod, Service},
    },
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams},
    runtime::{
        controller::Action,
        events::{Event, EventType},
    },
};
use serde_json::json;
use whisper_crds::{ConditionType, WhisperService, WhisperServiceStatus};

use crate::{
    apply::{apply, apply_dynamic, delete_if_exists},
    build::{self, Owner},
    context::Context,
    error::{Error, Result},
    finalizer, labels,
    status::{self, Monitoring, Observed},
    validate,
};

/// How soon to look again at a service that is still rolling out, besides watch events.
const ROLLOUT_RECHECK: Duration = Duration::from_secs(30);

pub async fn reconcile(ws: Arc<WhisperService>, ctx: Arc<Context>) -> Result<Action> {
    let owner = Owner::of(&ws)?;
    if ws.metadata.deletion_timestamp.is_some() {
        finalizer::cleanup(&ctx.client, &ws, &owner).await?;
        return Ok(Action::await_change());
    }
    finalizer::sync(&ctx.client, &ws, &owner).await?;

    let resolved =
        match validate::validate(&ws.spec, &ctx.config.server_image, &ctx.config.catalogue) {
            Ok(r) => r,
            Err(invalid) => {
                let observed = Observed {
                    deployment: None,
                    pods: &[],
                    invalid: Some(invalid.to_string()),
                    monitoring: Monitoring::Disabled,
                };
                write_status(&ctx, &ws, &owner, &observed).await?;
                // Nothing will change until the user edits the spec: wait for that.
                return Ok(Action::await_change());
            }
        };

    let ns = owner.namespace.as_str();
    let client = &ctx.client;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let deployment = apply(
        &deployments,
        &owner.name,
        &build::deployment(&owner, &ws.spec, &resolved),
        "Deployment",
    )
    .await?;
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    apply(
        &services,
        &owner.name,
        &build::service(&owner, &ws.spec),
        "Service",
    )
    .await?;

    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), ns);
    match &ws.spec.autoscaling {
        Some(auto) => {
            apply(
                &hpas,
                &owner.name,
                &build::hpa(&owner, auto),
                "HorizontalPodAutoscaler",
            )
            .await?;
        }
        None => delete_if_exists(&hpas, &owner.name, "HorizontalPodAutoscaler").await?,
    }

    sync_dashboard(&ctx, &ws, &owner).await?;
    let monitoring = sync_monitoring(&ctx, &ws, &owner).await?;

    let desired = ws.spec.replicas;
    let ready = deployment
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    // Pods are only read when something is missing: they explain why (unschedulable).
    let pods = if ready < desired {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let lp = ListParams::default().labels(&labels::selector_string(&owner.name));
        pods.list(&lp)
            .await
            .map_err(|source| Error::Read {
                kind: "Pod",
                source,
            })?
            .items
    } else {
        Vec::new()
    };
    let observed = Observed {
        deployment: Some(&deployment),
        pods: &pods,
        invalid: None,
        monitoring: monitoring.clone(),
    };
    let new_status = write_status(&ctx, &ws, &owner, &observed).await?;

    let all_ready = new_status
        .conditions
        .iter()
        .any(|c| c.type_ == ConditionType::Ready.as_str() && c.status == "True");
    Ok(if monitoring == Monitoring::CrdsMissing {
        // Look again soon so monitoring appears once the CRDs are installed.
        Action::requeue(ctx.config.discovery_ttl)
    } else if !all_ready && desired > 0 {
        Action::requeue(ROLLOUT_RECHECK)
    } else {
        Action::requeue(ctx.config.resync)
    })
}

async fn sync_dashboard(ctx: &Context, ws: &WhisperService, owner: &Owner) -> Result<()> {
    let spec = &ws.spec.monitoring.dashboard;
    let cm = build::dashboard_config_map(owner, spec, whisper_monitoring::DASHBOARD_JSON);
    let target_ns = cm
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| owner.namespace.clone());
    let local_name = labels::dashboard_name(&owner.namespace, &owner.name, true);
    let local: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    if spec.enabled {
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &target_ns);
        apply(&api, &cm.name_any(), &cm, "ConfigMap").await?;
        if target_ns != owner.namespace {
            delete_if_exists(&local, &local_name, "ConfigMap").await?;
        }
    } else {
        delete_if_exists(&local, &local_name, "ConfigMap").await?;
    }
    Ok(())
}

async fn sync_monitoring(ctx: &Context, ws: &WhisperService, owner: &Owner) -> Result<Monitoring> {
    let m = &ws.spec.monitoring;
    if !m.service_monitor.enabled && !m.alerts.enabled {
        // Leftovers from when they were on are removed if the kinds exist.
        if let Some(kinds) = ctx.discovery.kinds().await? {
            delete_dynamic(ctx, &kinds.service_monitor, owner, "ServiceMonitor").await?;
            delete_dynamic(ctx, &kinds.prometheus_rule, owner, "PrometheusRule").await?;
        }
        return Ok(Monitoring::Disabled);
    }
    let Some(kinds) = ctx.discovery.kinds().await? else {
        return Ok(Monitoring::CrdsMissing);
    };
    if m.service_monitor.enabled {
        let sm = build::service_monitor(owner, &m.service_monitor);
        apply_dynamic(
            &ctx.client,
            &kinds.service_monitor,
            &owner.namespace,
            &owner.name,
            &sm,
            "ServiceMonitor",
        )
        .await?;
    } else {
        delete_dynamic(ctx, &kinds.service_monitor, owner, "ServiceMonitor").await?;
    }
    if m.alerts.enabled {
        let pr = build::prometheus_rule(owner, &m.alerts, whisper_monitoring::ALERT_RULES_YAML)?;
        apply_dynamic(
            &ctx.client,
            &kinds.prometheus_rule,
            &owner.namespace,
            &owner.name,
            &pr,
            "PrometheusRule",
        )
        .await?;
    } else {
        delete_dynamic(ctx, &kinds.prometheus_rule, owner, "PrometheusRule").await?;
    }
    Ok(Monitoring::Applied)
}

async fn delete_dynamic(
    ctx: &Context,
    resource: &kube::core::ApiResource,
    owner: &Owner,
    kind: &'static str,
) -> Result<()> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &owner.namespace, resource);
    match api.delete(&owner.name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(source) => Err(Error::Delete { kind, source }),
    }
}

/// Computes the status and writes it (server-side apply on the status subresource) only when
/// it changed; publishes an Event when readiness flips.
async fn write_status(
    ctx: &Context,
    ws: &WhisperService,
    owner: &Owner,
    observed: &Observed<'_>,
) -> Result<WhisperServiceStatus> {
    let now = Time(Timestamp::now());
    let new = status::compute(ws, observed, &now);
    if !status::needs_update(ws.status.as_ref(), &new) {
        return Ok(new);
    }
    let api: Api<WhisperService> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let patch = json!({
        "apiVersion": format!("{}/{}", whisper_crds::GROUP, whisper_crds::VERSION),
        "kind": "WhisperService",
        "status": new,
    });
    api.patch_status(
        &owner.name,
        &PatchParams::apply(labels::MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::Status)?;
    publish_ready_change(ctx, ws, &new).await;
    Ok(new)
}

async fn publish_ready_change(ctx: &Context, ws: &WhisperService, new: &WhisperServiceStatus) {
    let ready = |s: Option<&WhisperServiceStatus>| {
        s.and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == ConditionType::Ready.as_str())
        })
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    };
    let Some((status, reason, message)) = ready(Some(new)) else {
        return;
    };
    if ready(ws.status.as_ref()).map(|(s, r, _)| (s, r)) == Some((status.clone(), reason.clone())) {
        return;
    }
    let event = Event {
        type_: if status == "True"
            || matches!(
                reason.as_str(),
                "ReplicasNotReady" | "ScaledToZero" | "ModelDownloading" | "ModelLoading"
            ) {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason,
        note: Some(message),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    // Events are best effort: a failure to record one must not fail the reconcile.
    if let Err(e) = ctx.recorder.publish(&event, &ws.object_ref(&())).await {
        tracing::warn!(error = %e, "could not publish event");
    }
}
