//! How far a Deployment's rollout has come, read from its status: the one reading that both the
//! status computation and the watch filter (which decides whether a Deployment's change is worth
//! a reconcile) use, so the two cannot disagree.

use k8s_openapi::api::apps::v1::Deployment;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeploymentProgress {
    pub replicas: i32,
    pub ready: i32,
    pub updated: i32,
    /// Every desired replica runs the current template and is ready, as seen by a Deployment
    /// controller that has caught up with the last spec change.
    pub rolled_out: bool,
    /// The Deployment controller's message when the rollout passed its progress deadline.
    pub deadline_exceeded: Option<String>,
}

impl DeploymentProgress {
    pub fn of(deployment: &Deployment, desired: i32) -> Self {
        let status = deployment.status.clone().unwrap_or_default();
        // A Deployment whose controller has not caught up with the last apply says nothing yet.
        let current = status.observed_generation.is_some()
            && status.observed_generation == deployment.metadata.generation;
        let replicas = status.replicas.unwrap_or(0);
        let ready = status.ready_replicas.unwrap_or(0);
        let updated = status.updated_replicas.unwrap_or(0);
        let deadline_exceeded = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Progressing" && c.status == "False")
            .map(|c| c.message.clone().unwrap_or_default());
        Self {
            replicas,
            ready,
            updated,
            rolled_out: current && updated >= desired && replicas == desired && ready >= desired,
            deadline_exceeded,
        }
    }
}
