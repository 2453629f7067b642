use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentCondition, DeploymentStatus},
        core::v1::{PodCondition, PodStatus},
    },
    jiff::Timestamp,
};

use super::*;
use crate::{fixtures::service, validate::Invalid};

fn at(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).expect("valid timestamp"))
}

fn dep(generation: i64, replicas: i32, ready: i32, updated: i32) -> Deployment {
    let mut d = Deployment::default();
    d.metadata.generation = Some(generation);
    d.status = Some(DeploymentStatus {
        observed_generation: Some(generation),
        replicas: Some(replicas),
        ready_replicas: Some(ready),
        updated_replicas: Some(updated),
        ..DeploymentStatus::default()
    });
    d
}

/// The status for `d` (as the API server returned it from the apply) and `pods`.
fn status(ws: &WhisperService, d: &Deployment, pods: &[Pod], now: &Time) -> WhisperServiceStatus {
    with_monitoring(ws, d, pods, Monitoring::Applied, now)
}

fn with_monitoring(
    ws: &WhisperService,
    d: &Deployment,
    pods: &[Pod],
    monitoring: Monitoring,
    now: &Time,
) -> WhisperServiceStatus {
    with_extras(ws, d, pods, monitoring, Autoscaling::Disabled, now)
}

fn with_extras(
    ws: &WhisperService,
    d: &Deployment,
    pods: &[Pod],
    monitoring: Monitoring,
    autoscaling: Autoscaling,
    now: &Time,
) -> WhisperServiceStatus {
    let applied = Applied {
        deployment: d.clone(),
        monitoring,
        autoscaling,
    };
    compute(
        ws,
        &Observed::Applied {
            applied: &applied,
            pods,
        },
        now,
    )
    .status
}

fn get(s: &WhisperServiceStatus, t: ConditionType) -> &Condition {
    s.conditions
        .iter()
        .find(|c| c.type_ == t.as_str())
        .expect("condition present")
}

#[test]
fn all_replicas_ready_gives_ready_true_and_progress_complete() {
    let ws = service("a", "ns", "model: tiny.en\nreplicas: 2");
    let d = dep(3, 2, 2, 2);
    let s = status(&ws, &d, &[], &at(10));
    assert_eq!(get(&s, ConditionType::Ready).status, "True");
    assert_eq!(get(&s, ConditionType::Ready).reason, "AllReplicasReady");
    assert_eq!(get(&s, ConditionType::Progressing).status, "False");
    assert_eq!(get(&s, ConditionType::Degraded).status, "False");
    assert_eq!((s.replicas, s.ready_replicas), (2, 2));
    assert_eq!(s.observed_generation, Some(1));
    assert_eq!(s.endpoint.as_deref(), Some("http://a.ns.svc:8000/v1"));
    assert_eq!(
        s.selector.as_deref(),
        Some(crate::labels::selector_string("a").as_str())
    );
}

#[test]
fn missing_or_stale_deployment_is_progressing_not_ready() {
    let ws = service("a", "ns", "model: tiny.en");
    // Just applied: the Deployment controller has not reported on it yet.
    let mut fresh = Deployment::default();
    fresh.metadata.generation = Some(1);
    let s = status(&ws, &fresh, &[], &at(10));
    assert_eq!(get(&s, ConditionType::Ready).reason, "ReplicasNotReady");
    assert_eq!(get(&s, ConditionType::Progressing).status, "True");
    let mut stale = dep(2, 1, 1, 1);
    stale.status.as_mut().expect("status").observed_generation = Some(1);
    let s = status(&ws, &stale, &[], &at(10));
    assert_eq!(get(&s, ConditionType::Ready).status, "False");
}

#[test]
fn unschedulable_pod_makes_it_degraded_with_the_scheduler_message() {
    let ws = service("a", "ns", "model: tiny.en\ngpu: {}");
    let pod = Pod {
        status: Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("Unschedulable".into()),
                message: Some("0/3 nodes are available: 3 Insufficient nvidia.com/gpu.".into()),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        }),
        ..Pod::default()
    };
    let d = dep(1, 1, 0, 1);
    let s = status(&ws, &d, &[pod], &at(10));
    let degraded = get(&s, ConditionType::Degraded);
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "Unschedulable")
    );
    assert!(
        degraded.message.contains("Insufficient nvidia.com/gpu"),
        "{}",
        degraded.message
    );
    assert_eq!(get(&s, ConditionType::Ready).reason, "Unschedulable");
}

#[test]
fn failed_rollout_deadline_is_degraded() {
    let ws = service("a", "ns", "model: tiny.en");
    let mut d = dep(1, 1, 0, 1);
    d.status.as_mut().expect("status").conditions = Some(vec![DeploymentCondition {
        type_: "Progressing".into(),
        status: "False".into(),
        reason: Some("ProgressDeadlineExceeded".into()),
        message: Some("ReplicaSet has timed out progressing.".into()),
        ..DeploymentCondition::default()
    }]);
    let s = status(&ws, &d, &[], &at(10));
    assert_eq!(
        get(&s, ConditionType::Degraded).reason,
        "ProgressDeadlineExceeded"
    );
}

#[test]
fn invalid_spec_is_reported_in_every_condition() {
    let ws = service("a", "ns", "model: nope");
    let invalid = Invalid::UnknownModel("nope".into(), "tiny.en".into());
    let s = compute(&ws, &Observed::Invalid(&invalid), &at(10)).status;
    for t in [
        ConditionType::Ready,
        ConditionType::Progressing,
        ConditionType::Degraded,
    ] {
        assert_eq!(get(&s, t).reason, "InvalidSpec");
    }
    assert!(get(&s, ConditionType::Degraded).message.contains("nope"));
}

#[test]
fn scaled_to_zero_is_not_ready_but_not_degraded() {
    let ws = service("a", "ns", "model: tiny.en\nreplicas: 0");
    let d = dep(1, 0, 0, 0);
    let s = status(&ws, &d, &[], &at(10));
    assert_eq!(get(&s, ConditionType::Ready).reason, "ScaledToZero");
    assert_eq!(get(&s, ConditionType::Degraded).status, "False");
}

#[test]
fn monitoring_condition_explains_missing_crds() {
    let ws = service("a", "ns", "model: tiny.en");
    let d = dep(1, 1, 1, 1);
    let s = with_monitoring(&ws, &d, &[], Monitoring::CrdsMissing, &at(1));
    let m = get(&s, ConditionType::MonitoringReady).clone();
    assert_eq!(
        (m.status.as_str(), m.reason.as_str()),
        ("False", "MonitoringCRDsMissing")
    );
    let s = with_monitoring(&ws, &d, &[], Monitoring::Disabled, &at(1));
    let m = get(&s, ConditionType::MonitoringReady).clone();
    assert_eq!(
        (m.status.as_str(), m.reason.as_str()),
        ("True", "MonitoringDisabled")
    );
}

#[test]
fn transition_time_is_kept_while_status_holds_and_moves_when_it_flips() {
    let mut ws = service("a", "ns", "model: tiny.en");
    let d = dep(1, 1, 1, 1);
    let first = status(&ws, &d, &[], &at(10));
    ws.status = Some(first.clone());
    let again = status(&ws, &d, &[], &at(20));
    assert_eq!(
        get(&again, ConditionType::Ready).last_transition_time,
        at(10)
    );
    assert!(!needs_update(Some(&first), &again));
    let down = dep(1, 1, 0, 1);
    let flipped = status(&ws, &down, &[], &at(30));
    assert_eq!(
        get(&flipped, ConditionType::Ready).last_transition_time,
        at(30)
    );
    assert!(needs_update(Some(&first), &flipped));
}

#[test]
fn needs_update_ignores_only_transition_times() {
    let ws = service("a", "ns", "model: tiny.en");
    let d = dep(1, 1, 1, 1);
    let a = status(&ws, &d, &[], &at(10));
    let b = status(&ws, &d, &[], &at(99));
    assert!(!needs_update(Some(&a), &b));
    assert!(needs_update(None, &a));
    let mut c = a.clone();
    c.ready_replicas = 0;
    assert!(needs_update(Some(&a), &c));
}

#[test]
fn a_pod_whose_model_download_fails_makes_it_degraded_with_the_cause() {
    let ws = service("a", "ns", "model: tiny.en");
    let d = dep(1, 1, 0, 1);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "a-1"},
        "status": {"initContainerStatuses": [{
            "name": "fetch-model", "image": "img:1", "imageID": "", "ready": false, "restartCount": 1,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "message": "Error: sha256 mismatch"}},
        }]}
    }))
    .expect("pod literal");
    let s = status(&ws, &d, &[pod], &at(10));
    let ready = get(&s, ConditionType::Ready);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "ModelDownloadFailed")
    );
    assert_eq!(
        ready.message,
        "0/1 replicas ready; pod a-1: the model download failed: exit code 1: sha256 mismatch"
    );
    let degraded = get(&s, ConditionType::Degraded);
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "ModelDownloadFailed")
    );
    assert!(
        degraded.message.ends_with(": sha256 mismatch"),
        "{}",
        degraded.message
    );
}

#[test]
fn the_report_carries_the_ready_condition_it_wrote() {
    let ws = service("a", "ns", "model: tiny.en");
    for (d, ready) in [(dep(1, 1, 1, 1), true), (dep(1, 1, 0, 1), false)] {
        let applied = Applied {
            deployment: d,
            monitoring: Monitoring::Applied,
            autoscaling: Autoscaling::Disabled,
        };
        let observed = Observed::Applied {
            applied: &applied,
            pods: &[],
        };
        let report = compute(&ws, &observed, &at(10));
        assert_eq!(report.ready.status, ready);
        let written = get(&report.status, ConditionType::Ready);
        assert_eq!(written.reason, report.ready.reason.as_str());
        assert_eq!(written.status, if ready { "True" } else { "False" });
    }
}

#[test]
fn a_failed_apply_makes_it_degraded_and_keeps_what_was_last_reported() {
    let mut ws = service("a", "ns", "model: tiny.en");
    let ready = status(&ws, &dep(1, 1, 1, 1), &[], &at(10));
    ws.status = Some(ready.clone());
    ws.metadata.generation = Some(2);
    let error = crate::error::Error::Apply {
        kind: "Service",
        source: kube::Error::Api(
            kube::core::Status::failure("services \"a\" is forbidden: exceeded quota", "Forbidden")
                .with_code(403)
                .boxed(),
        ),
    };
    let s = apply_failed(&ws, &error, &at(20));
    let degraded = get(&s, ConditionType::Degraded);
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "ApplyFailed")
    );
    assert_eq!(
        degraded.message,
        "applying Service: services \"a\" is forbidden: exceeded quota"
    );
    assert_eq!(degraded.last_transition_time, at(20));
    assert_eq!(degraded.observed_generation, Some(2));
    assert_eq!(s.observed_generation, Some(2));
    for t in [
        ConditionType::Ready,
        ConditionType::Progressing,
        ConditionType::MonitoringReady,
    ] {
        assert_eq!(get(&s, t), get(&ready, t), "{t:?}");
    }
    assert_eq!((s.replicas, s.ready_replicas), (1, 1));
    // With nothing reported before, Degraded is the only condition.
    let fresh = service("b", "ns", "model: tiny.en");
    let s = apply_failed(&fresh, &error, &at(20));
    assert_eq!(s.conditions.len(), 1);
    assert_eq!(s.conditions[0].reason, "ApplyFailed");
}

#[test]
fn autoscaling_says_which_signal_scales_and_warns_when_keda_is_missing() {
    let ws = service("a", "ns", "model: tiny.en");
    let d = dep(1, 1, 1, 1);
    let cases = [
        (Autoscaling::Disabled, "True", "AutoscalingDisabled"),
        (Autoscaling::Cpu, "True", "ScalingOnCPU"),
        (Autoscaling::InFlight, "True", "ScalingOnInFlight"),
        (Autoscaling::KedaMissing, "False", "KEDAMissing"),
    ];
    for (autoscaling, status, reason) in cases {
        let s = with_extras(&ws, &d, &[], Monitoring::Applied, autoscaling, &at(1));
        let c = get(&s, ConditionType::AutoscalingReady);
        assert_eq!((c.status.as_str(), c.reason.as_str()), (status, reason));
    }
    let s = with_extras(
        &ws,
        &d,
        &[],
        Monitoring::Applied,
        Autoscaling::KedaMissing,
        &at(1),
    );
    let c = get(&s, ConditionType::AutoscalingReady);
    assert!(
        c.message.contains("scaling on CPU until KEDA is installed"),
        "{}",
        c.message
    );
}
