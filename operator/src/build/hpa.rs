//! The HorizontalPodAutoscaler, which scales the WhisperService itself (its scale subresource),
//! so the desired replica count has one home: spec.replicas.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use whisper_crds::AutoscalingSpec;

use super::Owner;

/// The HPA for `autoscaling`, targeting average CPU utilisation: the autoscaler for signal Cpu,
/// and the fallback for signal InFlight while KEDA is not installed.
pub fn hpa(owner: &Owner, autoscaling: &AutoscalingSpec) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: owner.child_meta(owner.name.clone()),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: scale_target(owner),
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
            behavior: behavior(autoscaling),
        }),
        status: None,
    }
}

/// The scale-down stabilisation window when the spec sets one; Kubernetes' defaults otherwise.
/// KEDA's ScaledObject passes the same structure on to the HPA it makes.
pub fn behavior(autoscaling: &AutoscalingSpec) -> Option<HorizontalPodAutoscalerBehavior> {
    let window = autoscaling.scale_down_stabilization_seconds?;
    Some(HorizontalPodAutoscalerBehavior {
        scale_down: Some(HPAScalingRules {
            stabilization_window_seconds: Some(window),
            ..HPAScalingRules::default()
        }),
        scale_up: None,
    })
}

/// The object that scales a WhisperService: its kind and name, for the HPA and KEDA alike.
pub fn scale_target(owner: &Owner) -> CrossVersionObjectReference {
    CrossVersionObjectReference {
        api_version: Some(format!("{}/{}", whisper_crds::GROUP, whisper_crds::VERSION)),
        kind: "WhisperService".to_string(),
        name: owner.name.clone(),
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
        assert_eq!(
            spec.behavior, None,
            "Kubernetes' default behaviour unless asked"
        );
    }

    #[test]
    fn a_stabilisation_window_in_the_spec_shortens_scale_down_only() {
        let w = ws(
            "a",
            "ns",
            "model: tiny.en\nautoscaling: {maxReplicas: 3, scaleDownStabilizationSeconds: 30}",
        );
        let auto = w.spec.autoscaling.clone().expect("autoscaling");
        let behavior = hpa(&Owner::of(&w).expect("owner"), &auto)
            .spec
            .and_then(|s| s.behavior)
            .expect("behavior");
        assert_eq!(
            behavior
                .scale_down
                .and_then(|r| r.stabilization_window_seconds),
            Some(30)
        );
        assert_eq!(behavior.scale_up, None);
    }
}
