//! One reconciliation, as a pipeline whose stages are the modules it calls:
//! `validate` (the spec → [`Valid`]) → `build` (→ [`Children`], every child as it should be) →
//! `apply` (→ [`Applied`], what the API server stored) → `status` (→ the status, from what was
//! applied and the pods). `validate`, `build` and the status computation are pure; the API
//! calls are in `apply` (with `finalizer`), the pod read below, and `status::write`.
//!
//! [`Valid`]: crate::validate::Valid
//! [`Children`]: crate::build::Children
//! [`Applied`]: crate::apply::Applied

use std::{sync::Arc, time::Duration};

use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{Api, api::ListParams, runtime::controller::Action};
use whisper_crds::WhisperService;

use crate::{
    apply::{self, Applied, Autoscaling, Monitoring},
    build::{self, Owner},
    context::Context,
    error::{Error, Result},
    finalizer, labels,
    status::{self, DeploymentProgress, Observed},
    validate,
};

pub async fn reconcile(ws: Arc<WhisperService>, ctx: Arc<Context>) -> Result<Action> {
    let owner = Owner::of(&ws)?;
    if ws.metadata.deletion_timestamp.is_some() {
        finalizer::cleanup(&ctx, &ws, &owner).await?;
        return Ok(Action::await_change());
    }

    let valid = match validate::validate(&owner, &ws.spec, &ctx.config) {
        Ok(valid) => valid,
        Err(invalid) => {
            report(&ctx, &ws, &owner, Observed::Invalid(&invalid)).await?;
            // Nothing will change until the user edits the spec: wait for that.
            return Ok(Action::await_change());
        }
    };
    let children = build::children(&valid)?;
    let applied = match apply::children(&ctx, &ws, &owner, children).await {
        Ok(applied) => applied,
        Err(error) => return Err(apply_failed(&ctx, &ws, &owner, error).await),
    };
    let pods = pods_if_unfinished(&ctx, &ws, &owner, &applied).await?;
    report(
        &ctx,
        &ws,
        &owner,
        Observed::Applied {
            applied: &applied,
            pods: &pods,
        },
    )
    .await?;

    // A rollout in progress needs no timer: every step of it that the status reports wakes this
    // service through the watches (`wake`).
    let kinds_missing = applied.monitoring == Monitoring::CrdsMissing
        || applied.autoscaling == Autoscaling::KedaMissing;
    Ok(if kinds_missing {
        // Look again soon so monitoring or KEDA are used once their CRDs are installed.
        Action::requeue(ctx.config.discovery_ttl)
    } else {
        Action::requeue(spread(ctx.config.resync, &ws))
    })
}

/// `resync` stretched by up to 10% either way, the same for a service every time: services
/// created together do not all come back in the same second.
pub(crate) fn spread(resync: Duration, ws: &WhisperService) -> Duration {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&ws.metadata.uid, &mut hasher);
    let unit = (std::hash::Hasher::finish(&hasher) % 1001) as f64 / 1000.0;
    resync.mul_f64(0.9 + 0.2 * unit)
}

/// The server pods, read only while a rollout is unfinished (replicas missing, or a new pod not
/// up yet) and the pod watch saw one with something to explain (unschedulable, a failed model
/// download, a crash loop).
async fn pods_if_unfinished(
    ctx: &Context,
    ws: &WhisperService,
    owner: &Owner,
    applied: &Applied,
) -> Result<Vec<Pod>> {
    let rolled_out = DeploymentProgress::of(&applied.deployment, ws.spec.replicas).rolled_out;
    // A pod that has nothing to explain (none yet, pending, starting) adds nothing to the
    // status; the pod watch wakes the service when one has.
    if rolled_out || !ctx.pod_board.has_news(&owner.namespace, &owner.name) {
        return Ok(Vec::new());
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let lp = ListParams::default().labels(&labels::selector_string(&owner.name));
    pods.list(&lp)
        .await
        .map(|list| list.items)
        .map_err(|source| Error::Read {
            kind: "Pod",
            source,
        })
}

/// Computes and writes the status (an Event when Ready changed).
async fn report(
    ctx: &Context,
    ws: &WhisperService,
    owner: &Owner,
    observed: Observed<'_>,
) -> Result<()> {
    let report = status::compute(ws, &observed, &Time(Timestamp::now()));
    if status::write(ctx, ws, owner, &report.status).await? {
        status::publish_ready_change(ctx, ws, &report.ready).await;
    }
    Ok(())
}

/// A child could not be applied: Degraded says so (best effort) and the error goes to the
/// controller's retry with backoff.
async fn apply_failed(ctx: &Context, ws: &WhisperService, owner: &Owner, error: Error) -> Error {
    if matches!(error, Error::Apply { .. } | Error::Delete { .. }) {
        let new = status::apply_failed(ws, &error, &Time(Timestamp::now()));
        if let Err(e) = status::write(ctx, ws, owner, &new).await {
            tracing::warn!(error = %e, "could not report the failed apply in status");
        }
    }
    error
}

#[cfg(test)]
mod tests;
