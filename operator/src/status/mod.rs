//! Stage 4 of a reconcile: the status as a pure function of what was applied (or why nothing
//! was), the comparison that decides whether a status write is needed, and (`write`) the write
//! and the Event when readiness changes.

mod deployment_progress;
mod pod_health;
mod reason;
mod write;

pub use deployment_progress::DeploymentProgress;
pub use pod_health::{PodHealth, Trouble, diagnose, diagnose_pod};
pub use reason::Reason;
pub use write::{publish_ready_change, write};

use k8s_openapi::{
    api::core::v1::Pod,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
};
use whisper_crds::{ConditionType, WhisperService, WhisperServiceStatus};

use crate::{
    apply::{Applied, Autoscaling, Monitoring},
    error::Error,
    labels,
    validate::Invalid,
};

/// Everything a status is computed from.
#[derive(Clone, Copy, Debug)]
pub enum Observed<'a> {
    /// The spec cannot be deployed; nothing was applied.
    Invalid(&'a Invalid),
    /// Every child was applied. `pods` are read only when replicas are missing (they say why).
    Applied {
        applied: &'a Applied,
        pods: &'a [Pod],
    },
}

/// One condition as computed, before it becomes the API's `Condition`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    pub type_: ConditionType,
    pub status: bool,
    pub reason: Reason,
    pub message: String,
}

/// The status to write, and its Ready condition as computed: the next requeue and the Event
/// are decided from that, not read back from the conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub status: WhisperServiceStatus,
    pub ready: Cond,
}

/// The status to write for `ws` given what was observed, keeping each condition's
/// lastTransitionTime when its status did not change.
pub fn compute(ws: &WhisperService, observed: &Observed, now: &Time) -> Report {
    let desired = ws.spec.replicas;
    let (conds, monitoring, autoscaling, replicas, ready) = match *observed {
        Observed::Invalid(invalid) => {
            let msg = invalid.to_string();
            let conds = [
                cond(
                    ConditionType::Ready,
                    false,
                    Reason::InvalidSpec,
                    msg.clone(),
                ),
                cond(
                    ConditionType::Progressing,
                    false,
                    Reason::InvalidSpec,
                    "waiting for the spec to be fixed".into(),
                ),
                cond(ConditionType::Degraded, true, Reason::InvalidSpec, msg),
            ];
            (conds, Monitoring::Disabled, Autoscaling::Disabled, 0, 0)
        }
        Observed::Applied { applied, pods } => {
            let (conds, replicas, ready) = rollout(desired, applied, pods);
            (
                conds,
                applied.monitoring,
                applied.autoscaling,
                replicas,
                ready,
            )
        }
    };
    let [ready_cond, progressing, degraded] = conds;
    let monitoring = monitoring_cond(monitoring);
    let autoscaling = autoscaling_cond(autoscaling);
    let previous = previous_conditions(ws);
    let conditions = [
        ready_cond.clone(),
        progressing,
        degraded,
        monitoring,
        autoscaling,
    ]
    .into_iter()
    .map(|c| to_condition(c, previous, ws.metadata.generation, now))
    .collect();
    Report {
        status: WhisperServiceStatus {
            replicas,
            ready_replicas: ready,
            conditions,
            ..base(ws)
        },
        ready: ready_cond,
    }
}

/// After a failed apply: what was last reported stands, and Degraded says what failed.
pub fn apply_failed(ws: &WhisperService, error: &Error, now: &Time) -> WhisperServiceStatus {
    let previous = ws.status.clone().unwrap_or_default();
    let degraded = to_condition(
        cond(
            ConditionType::Degraded,
            true,
            Reason::ApplyFailed,
            error.brief(),
        ),
        &previous.conditions,
        ws.metadata.generation,
        now,
    );
    let mut conditions = previous.conditions.clone();
    match conditions.iter_mut().find(|c| c.type_ == degraded.type_) {
        Some(c) => *c = degraded,
        None => conditions.push(degraded),
    }
    WhisperServiceStatus {
        replicas: previous.replicas,
        ready_replicas: previous.ready_replicas,
        conditions,
        ..base(ws)
    }
}

/// The fields that follow from the object alone.
fn base(ws: &WhisperService) -> WhisperServiceStatus {
    let name = ws.metadata.name.clone().unwrap_or_default();
    let namespace = ws.metadata.namespace.clone().unwrap_or_default();
    WhisperServiceStatus {
        observed_generation: ws.metadata.generation,
        selector: Some(labels::selector_string(&name)),
        endpoint: Some(format!(
            "http://{name}.{namespace}.svc:{}/v1",
            ws.spec.service.port
        )),
        ..WhisperServiceStatus::default()
    }
}

fn previous_conditions(ws: &WhisperService) -> &[Condition] {
    ws.status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default()
}

/// Ready, Progressing and Degraded from the applied Deployment and its pods; with the replica
/// counts.
fn rollout(desired: i32, applied: &Applied, pods: &[Pod]) -> ([Cond; 3], i32, i32) {
    let DeploymentProgress {
        replicas,
        ready,
        updated,
        rolled_out,
        deadline_exceeded,
    } = DeploymentProgress::of(&applied.deployment, desired);
    let unschedulable = unschedulable_message(pods);
    let health = diagnose(pods);
    let failing = match &health {
        PodHealth::Failing(t) => Some(t.clone()),
        _ => None,
    };

    let ready_cond = if desired == 0 {
        cond(
            ConditionType::Ready,
            false,
            Reason::ScaledToZero,
            "spec.replicas is 0".into(),
        )
    } else if rolled_out {
        cond(
            ConditionType::Ready,
            true,
            Reason::AllReplicasReady,
            format!("{ready}/{desired} replicas ready"),
        )
    } else if unschedulable.is_some() {
        cond(
            ConditionType::Ready,
            false,
            Reason::Unschedulable,
            format!("{ready}/{desired} replicas ready; pods cannot be scheduled"),
        )
    } else {
        let counts = format!("{ready}/{desired} replicas ready");
        let (reason, message) = match &health {
            PodHealth::Failing(t) => (t.reason, format!("{counts}; {}", t.message)),
            PodHealth::ModelDownloading(m) => (Reason::ModelDownloading, format!("{counts}; {m}")),
            PodHealth::ModelLoading(m) => (Reason::ModelLoading, format!("{counts}; {m}")),
            PodHealth::Unremarkable => (Reason::ReplicasNotReady, counts),
        };
        cond(ConditionType::Ready, false, reason, message)
    };
    let progressing = if rolled_out {
        cond(
            ConditionType::Progressing,
            false,
            Reason::RolloutComplete,
            format!("{updated} replicas up to date"),
        )
    } else {
        cond(
            ConditionType::Progressing,
            true,
            Reason::RollingOut,
            format!("{updated}/{desired} replicas updated, {ready} ready"),
        )
    };
    let degraded = match (&unschedulable, &failing, &deadline_exceeded) {
        (Some(msg), _, _) => cond(
            ConditionType::Degraded,
            true,
            Reason::Unschedulable,
            msg.clone(),
        ),
        (None, Some(t), _) if !rolled_out => {
            cond(ConditionType::Degraded, true, t.reason, t.message.clone())
        }
        (None, _, Some(msg)) => cond(
            ConditionType::Degraded,
            true,
            Reason::ProgressDeadlineExceeded,
            msg.clone(),
        ),
        _ => cond(
            ConditionType::Degraded,
            false,
            Reason::AsExpected,
            "no problems seen".into(),
        ),
    };
    ([ready_cond, progressing, degraded], replicas, ready)
}

fn monitoring_cond(monitoring: Monitoring) -> Cond {
    match monitoring {
        Monitoring::Disabled => cond(
            ConditionType::MonitoringReady,
            true,
            Reason::MonitoringDisabled,
            "ServiceMonitor and alerts are switched off".into(),
        ),
        Monitoring::Applied => cond(
            ConditionType::MonitoringReady,
            true,
            Reason::MonitoringApplied,
            "monitoring objects are in place".into(),
        ),
        Monitoring::CrdsMissing => cond(
            ConditionType::MonitoringReady,
            false,
            Reason::MonitoringCrdsMissing,
            "the cluster does not serve monitoring.coreos.com/v1 ServiceMonitor and PrometheusRule; install the Prometheus Operator CRDs (the service works without them)".into(),
        ),
    }
}

fn autoscaling_cond(autoscaling: Autoscaling) -> Cond {
    let (status, reason, message) = match autoscaling {
        Autoscaling::Disabled => (
            true,
            Reason::AutoscalingDisabled,
            "replicas follow spec.replicas",
        ),
        Autoscaling::Cpu => (
            true,
            Reason::ScalingOnCpu,
            "a HorizontalPodAutoscaler scales on CPU utilisation",
        ),
        Autoscaling::InFlight => (
            true,
            Reason::ScalingOnInFlight,
            "a KEDA ScaledObject scales on requests in flight per replica",
        ),
        Autoscaling::KedaMissing => (
            false,
            Reason::KedaMissing,
            "signal InFlight needs KEDA, and the cluster does not serve keda.sh/v1alpha1 ScaledObject; scaling on CPU until KEDA is installed",
        ),
    };
    cond(
        ConditionType::AutoscalingReady,
        status,
        reason,
        message.into(),
    )
}

fn cond(type_: ConditionType, status: bool, reason: Reason, message: String) -> Cond {
    Cond {
        type_,
        status,
        reason,
        message,
    }
}

fn to_condition(c: Cond, previous: &[Condition], generation: Option<i64>, now: &Time) -> Condition {
    let status = if c.status { "True" } else { "False" }.to_string();
    let last_transition_time = previous
        .iter()
        .find(|p| p.type_ == c.type_.as_str() && p.status == status)
        .map(|p| p.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: c.type_.as_str().to_string(),
        status,
        reason: c.reason.as_str().to_string(),
        message: c.message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// The scheduler's explanation for pods it could not place, if any.
pub fn unschedulable_message(pods: &[Pod]) -> Option<String> {
    let stuck: Vec<String> = pods
        .iter()
        .filter_map(|p| p.status.as_ref()?.conditions.as_ref())
        .filter_map(|conds| {
            conds
                .iter()
                .find(|c| {
                    c.type_ == "PodScheduled"
                        && c.status == "False"
                        && c.reason.as_deref() == Some("Unschedulable")
                })
                .map(|c| c.message.clone().unwrap_or_default())
        })
        .collect();
    let first = stuck.first()?;
    Some(format!(
        "{} pod(s) cannot be scheduled: {first}",
        stuck.len()
    ))
}

/// Whether writing `new` would change anything, ignoring lastTransitionTime.
pub fn needs_update(old: Option<&WhisperServiceStatus>, new: &WhisperServiceStatus) -> bool {
    let strip = |s: &WhisperServiceStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_transition_time = Time(Default::default());
        }
        s
    };
    old.map(strip) != Some(strip(new))
}

#[cfg(test)]
mod tests;
