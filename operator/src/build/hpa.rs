//! The HorizontalPodAutoscaler, which scales the WhisperService itself (its scale subresource),
//! so the desired replica count has one home: spec.replicas.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use whisper_crds::AutoscalingSpec;

use super::Owner;

/// The HPA for `autoscaling`, targeting average CPU utilisation.
pub fn hpa(owner: &Owner, autoscaling: &AutoscalingSpec) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: owner.child_meta(owner.name.clone()),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some(format!("{}/{}", whisper_crds::GROUP, whisper_crds::VERSION)),
                kind: "WhisperService".to_string(),
                name: owner.name.clone(),
            },
            min_replicas: Some(autoscaling.min_replicas),
            max_replicas: autoscaling.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_string(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_string(),
                    target: MetricTarget {
                        type_: "Utilization".to_string(),
                        average_utilization: Some(autoscaling.target_cpu_utilization_percent),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: None,
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service as ws;

    #[test]
    fn targets_the_whisper_service_with_bounds_and_default_cpu_target() {
        let w = ws("a", "ns", "model: tiny.en\nautoscaling: {maxReplicas: 4}");
        let auto = w.spec.autoscaling.clone().expect("autoscaling");
        let spec = hpa(&Owner::of(&w).expect("owner"), &auto)
            .spec
            .expect("spec");
        assert_eq!(spec.scale_target_ref.kind, "WhisperService");
        assert_eq!(
            spec.scale_target_ref.api_version.as_deref(),
            Some("whisper-operator.io/v1alpha1")
        );
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(1), 4));
        let target = &spec.metrics.expect("metrics")[0]
            .resource
            .clone()
            .expect("resource")
            .target;
        assert_eq!(target.average_utilization, Some(80));
    }
}
