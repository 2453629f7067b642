//! The part of a Deployment's or a Pod's status that a WhisperService's status is computed from,
//! as a hash: a change of it is worth a reconcile, anything else in the status is not. Both are 0
//! in the quiet state (nothing ready yet, nothing wrong), which is also what the ledger assumes
//! for a child it has not seen, so a new child's first steps wake nobody.

use std::hash::{DefaultHasher, Hash, Hasher};

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Pod};

use crate::status::{DeploymentProgress, PodHealth, diagnose_pod, unschedulable_message};

/// Ready count, rolled out or not, and a passed progress deadline.
pub fn deployment(deployment: &Deployment) -> u64 {
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let progress = DeploymentProgress::of(deployment, desired);
    let quiet = progress.ready == 0 && !progress.rolled_out && progress.deadline_exceeded.is_none();
    if quiet {
        return 0;
    }
    nonzero_hash(&(
        progress.ready,
        progress.rolled_out,
        progress.deadline_exceeded,
    ))
}

/// What the pod says about why it is not serving (downloading, loading, failing, unschedulable).
pub fn pod(pod: &Pod) -> u64 {
    let health = diagnose_pod(pod);
    let unschedulable = unschedulable_message(std::slice::from_ref(pod));
    if health == PodHealth::Unremarkable && unschedulable.is_none() {
        return 0;
    }
    nonzero_hash(&(health, unschedulable))
}

fn nonzero_hash<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish().max(1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment_with(status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "tiny", "generation": 1},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": status,
        }))
        .expect("deployment")
    }

    #[test]
    fn a_deployment_is_quiet_until_a_replica_is_ready_then_changes_once_rolled_out() {
        let created = deployment_with(json!(null));
        let scaling = deployment_with(
            json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "unavailableReplicas": 1}),
        );
        let ready = deployment_with(
            json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}),
        );
        assert_eq!(deployment(&created), 0);
        assert_eq!(deployment(&scaling), 0);
        assert_ne!(deployment(&ready), 0);
    }

    #[test]
    fn a_passed_progress_deadline_is_a_signal() {
        let stuck = deployment_with(json!({"observedGeneration": 1, "replicas": 1,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}]}));
        assert_ne!(deployment(&stuck), 0);
    }

    #[test]
    fn a_pending_pod_is_quiet_and_an_unschedulable_or_loading_one_is_not() {
        let pod_with = |status: serde_json::Value| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p"}, "status": status}))
                .expect("pod")
        };
        assert_eq!(pod(&pod_with(json!({"phase": "Pending"}))), 0);
        let unschedulable = pod_with(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled",
            "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available"}]}),
        );
        assert_ne!(pod(&unschedulable), 0);
        let loading = pod_with(
            json!({"phase": "Running", "containerStatuses": [{"name": "whisper-server",
            "image": "i", "imageID": "", "ready": false, "restartCount": 0, "state": {"running": {}}}]}),
        );
        assert_ne!(pod(&loading), 0);
        assert_ne!(pod(&loading), pod(&unschedulable));
    }
}
