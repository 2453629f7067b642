//! The PodDisruptionBudget of a service with more than one replica: a drain or any other
//! voluntary eviction takes one server pod at a time, so the others keep serving. One replica
//! gets none: a budget that forbids evicting the only pod would block every node drain.

use k8s_openapi::{
    api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec},
    apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
};

use super::Owner;
use crate::labels;

/// The budget for `replicas` server pods, or `None` when there is nothing to keep serving.
pub fn disruption_budget(owner: &Owner, replicas: i32) -> Option<PodDisruptionBudget> {
    (replicas > 1).then(|| PodDisruptionBudget {
        metadata: owner.child_meta(owner.name.clone()),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(labels::selector_labels(&owner.name)),
                match_expressions: None,
            }),
            // A pod that is not ready serves nobody: evicting it (a crash loop, a model that
            // cannot load) must not wait on the budget, or it would block the drain for good.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_string()),
            min_available: None,
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service as ws;

    fn owner() -> Owner {
        Owner::of(&ws("tiny", "ns", "model: tiny.en")).expect("owner")
    }

    #[test]
    fn one_replica_has_no_budget() {
        assert_eq!(disruption_budget(&owner(), 1), None);
        assert_eq!(disruption_budget(&owner(), 0), None);
    }

    #[test]
    fn two_or_more_replicas_lose_one_pod_at_a_time_and_unready_pods_are_never_held() {
        let pdb = disruption_budget(&owner(), 3).expect("a budget");
        assert_eq!(pdb.metadata.name.as_deref(), Some("tiny"));
        let spec = pdb.spec.expect("spec");
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(spec.min_available, None);
        assert_eq!(
            spec.selector.and_then(|s| s.match_labels),
            Some(labels::selector_labels("tiny"))
        );
        assert_eq!(
            spec.unhealthy_pod_eviction_policy.as_deref(),
            Some("AlwaysAllow")
        );
    }
}
