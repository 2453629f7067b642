//! Status as a pure function of what the cluster shows, and the comparison that decides whether
//! a status write is needed.

use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::Pod},
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
};
use whisper_crds::{ConditionType, WhisperService, WhisperServiceStatus};

use crate::{
    labels,
    pod_health::{self, PodHealth},
};

/// Whether the monitoring kinds could be put in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Monitoring {
    /// ServiceMonitor and PrometheusRule both switched off.
    Disabled,
    /// Everything asked for is applied.
    Applied,
    /// The cluster does not serve monitoring.coreos.com/v1 ServiceMonitor/PrometheusRule.
    CrdsMissing,
}

/// Everything status is computed from.
pub struct Observed<'a> {
    pub deployment: Option<&'a Deployment>,
    pub pods: &'a [Pod],
    /// Why the spec cannot be deployed, if it cannot.
    pub invalid: Option<String>,
    pub monitoring: Monitoring,
}

struct Cond {
    type_: ConditionType,
    status: bool,
    reason: &'static str,
    message: String,
}

/// The status to write for `ws` given what was observed, keeping each condition's
/// lastTransitionTime when its status did not change.
pub fn compute(ws: &WhisperService, observed: &Observed, now: &Time) -> WhisperServiceStatus {
    let name = ws.metadata.name.clone().unwrap_or_default();
    let namespace = ws.metadata.namespace.clone().unwrap_or_default();
    let generation = ws.metadata.generation;
    let desired = ws.spec.replicas;
    let dep_status = observed
        .deployment
        .and_then(|d| d.status.clone())
        .unwrap_or_default();
    // A Deployment whose controller has not caught up with our last apply says nothing yet.
    let dep_current = observed.deployment.is_some_and(|d| {
        dep_status.observed_generation.is_some()
            && dep_status.observed_generation == d.metadata.generation
    });
    let replicas = dep_status.replicas.unwrap_or(0);
    let ready = dep_status.ready_replicas.unwrap_or(0);
    let updated = dep_status.updated_replicas.unwrap_or(0);
    let unschedulable = unschedulable_message(observed.pods);
    let health = pod_health::diagnose(observed.pods);
    let failing = match &health {
        PodHealth::Failing(t) => Some(t.clone()),
        _ => None,
    };
    let deadline_exceeded = dep_status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing" && c.status == "False")
        .map(|c| c.message.clone().unwrap_or_default());

    let conds = if let Some(msg) = &observed.invalid {
        vec![
            cond(ConditionType::Ready, false, "InvalidSpec", msg.clone()),
            cond(
                ConditionType::Progressing,
                false,
                "InvalidSpec",
                "waiting for the spec to be fixed".into(),
            ),
            cond(ConditionType::Degraded, true, "InvalidSpec", msg.clone()),
        ]
    } else {
        let rolled_out =
            dep_current && updated >= desired && replicas == desired && ready >= desired;
        let ready_cond = if desired == 0 {
            cond(
                ConditionType::Ready,
                false,
                "ScaledToZero",
                "spec.replicas is 0".into(),
            )
        } else if rolled_out {
            cond(
                ConditionType::Ready,
                true,
                "AllReplicasReady",
                format!("{ready}/{desired} replicas ready"),
            )
        } else if unschedulable.is_some() {
            cond(
                ConditionType::Ready,
                false,
                "Unschedulable",
                format!("{ready}/{desired} replicas ready; pods cannot be scheduled"),
            )
        } else {
            let counts = format!("{ready}/{desired} replicas ready");
            let (reason, message) = match &health {
                PodHealth::Failing(t) => (t.reason, format!("{counts}; {}", t.message)),
                PodHealth::ModelDownloading(m) => ("ModelDownloading", format!("{counts}; {m}")),
                PodHealth::ModelLoading(m) => ("ModelLoading", format!("{counts}; {m}")),
                PodHealth::Unremarkable => ("ReplicasNotReady", counts),
            };
            cond(ConditionType::Ready, false, reason, message)
        };
        let progressing = if rolled_out {
            cond(
                ConditionType::Progressing,
                false,
                "RolloutComplete",
                format!("{updated} replicas up to date"),
            )
        } else {
            cond(
                ConditionType::Progressing,
                true,
                "RollingOut",
                format!("{updated}/{desired} replicas updated, {ready} ready"),
            )
        };
        let degraded = match (&unschedulable, &failing, &deadline_exceeded) {
            (Some(msg), _, _) => cond(ConditionType::Degraded, true, "Unschedulable", msg.clone()),
            (None, Some(t), _) if !rolled_out => {
                cond(ConditionType::Degraded, true, t.reason, t.message.clone())
            }
            (None, _, Some(msg)) => cond(
                ConditionType::Degraded,
                true,
                "ProgressDeadlineExceeded",
                msg.clone(),
            ),
            _ => cond(
                ConditionType::Degraded,
                false,
                "AsExpected",
                "no problems seen".into(),
            ),
        };
        vec![ready_cond, progressing, degraded]
    };
    let monitoring = match observed.monitoring {
        Monitoring::Disabled => cond(ConditionType::MonitoringReady, true, "MonitoringDisabled", "ServiceMonitor and alerts are switched off".into()),
        Monitoring::Applied => cond(ConditionType::MonitoringReady, true, "MonitoringApplied", "monitoring objects are in place".into()),
        Monitoring::CrdsMissing => cond(
            ConditionType::MonitoringReady,
            false,
            "MonitoringCRDsMissing",
            "the cluster does not serve monitoring.coreos.com/v1 ServiceMonitor and PrometheusRule; install the Prometheus Operator CRDs (the service works without them)".into(),
        ),
    };

    let previous = ws
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let conditions = conds
        .into_iter()
        .chain(std::iter::once(monitoring))
        .map(|c| to_condition(c, previous, generation, now))
        .collect();
    WhisperServiceStatus {
        observed_generation: generation,
        replicas,
        ready_replicas: ready,
        selector: Some(labels::selector_string(&name)),
        endpoint: Some(format!(
            "http://{name}.{namespace}.svc:{}/v1",
            ws.spec.service.port
        )),
        conditions,
    }
}

fn cond(type_: ConditionType, status: bool, reason: &'static str, message: String) -> Cond {
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
        reason: c.reason.to_string(),
        message: c.message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// The scheduler's explanation for pods it could not place, if any.
fn unschedulable_message(pods: &[Pod]) -> Option<String> {
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
#[path = "status_tests.rs"]
mod tests;
