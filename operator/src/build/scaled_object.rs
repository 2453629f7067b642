//! The KEDA ScaledObject for autoscaling signal InFlight: KEDA asks Prometheus how many requests
//! the service's pods hold (queued or being transcribed) and makes an HPA that keeps that many
//! per replica. It scales the WhisperService itself, like the CPU HPA does.

use serde_json::{Value, json};
use whisper_crds::AutoscalingSpec;

use super::{
    Owner,
    hpa::{behavior, scale_target},
};

/// How often KEDA's operator polls the trigger. The HPA it makes still decides every 15 s (the
/// controller manager's sync period); this only bounds how stale KEDA's own view is.
const POLLING_INTERVAL_SECONDS: i32 = 5;

/// The ScaledObject (keda.sh/v1alpha1), as JSON for a dynamic apply: KEDA's CRDs may not be
/// installed. `None` when the spec has no Prometheus to read.
pub fn scaled_object(owner: &Owner, autoscaling: &AutoscalingSpec) -> Option<Value> {
    let prometheus = autoscaling.prometheus_address.as_ref()?;
    let mut advanced = json!({});
    if let Some(behavior) = behavior(autoscaling) {
        advanced = json!({ "horizontalPodAutoscalerConfig": { "behavior": behavior } });
    }
    Some(json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": owner.child_meta(owner.name.clone()),
        "spec": {
            "scaleTargetRef": scale_target(owner),
            "pollingInterval": POLLING_INTERVAL_SECONDS,
            "minReplicaCount": autoscaling.min_replicas,
            "maxReplicaCount": autoscaling.max_replicas,
            "advanced": advanced,
            "triggers": [{
                "type": "prometheus",
                // The query's total divided by the replica count is what the HPA compares.
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": prometheus,
                    "query": in_flight_query(&owner.namespace, &owner.name),
                    "threshold": autoscaling.target_in_flight_per_replica.to_string(),
                    // No series yet (no pod scraped) counts as no load.
                    "ignoreNullValues": "true",
                },
            }],
        },
    }))
}

/// Requests queued or holding a slot, over every pod of the service `name` in `namespace`. The
/// labels are the ones Prometheus gives every target its ServiceMonitor finds.
pub fn in_flight_query(namespace: &str, name: &str) -> String {
    let selector = format!("namespace=\"{namespace}\",service=\"{name}\"");
    format!("sum(whisper_queue_depth{{{selector}}}) + sum(whisper_inflight_requests{{{selector}}})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service as ws;

    fn built(spec: &str) -> Option<Value> {
        let w = ws("asr", "team", spec);
        let auto = w.spec.autoscaling.clone().expect("autoscaling");
        scaled_object(&Owner::of(&w).expect("owner"), &auto)
    }

    #[test]
    fn scales_the_whisper_service_on_prometheus_in_flight_per_replica() {
        let so = built(
            "model: tiny.en\nautoscaling: {maxReplicas: 3, signal: InFlight, targetInFlightPerReplica: 3, prometheusAddress: 'http://prom:9090'}",
        )
        .expect("a ScaledObject");
        assert_eq!(so["kind"], "ScaledObject");
        assert_eq!(
            so["metadata"]["ownerReferences"][0]["kind"],
            "WhisperService"
        );
        let spec = &so["spec"];
        assert_eq!(spec["scaleTargetRef"]["kind"], "WhisperService");
        assert_eq!(spec["scaleTargetRef"]["name"], "asr");
        assert_eq!(
            (
                spec["minReplicaCount"].clone(),
                spec["maxReplicaCount"].clone()
            ),
            (json!(1), json!(3))
        );
        let trigger = &spec["triggers"][0];
        assert_eq!(trigger["type"], "prometheus");
        assert_eq!(trigger["metricType"], "AverageValue");
        assert_eq!(trigger["metadata"]["serverAddress"], "http://prom:9090");
        assert_eq!(trigger["metadata"]["threshold"], "3");
        assert_eq!(
            trigger["metadata"]["query"],
            "sum(whisper_queue_depth{namespace=\"team\",service=\"asr\"}) + sum(whisper_inflight_requests{namespace=\"team\",service=\"asr\"})"
        );
        assert_eq!(
            spec["advanced"],
            json!({}),
            "KEDA's default HPA behaviour unless asked"
        );
    }

    #[test]
    fn passes_the_stabilisation_window_to_keda_hpa() {
        let so = built(
            "model: tiny.en\nautoscaling: {maxReplicas: 3, signal: InFlight, prometheusAddress: 'http://prom:9090', scaleDownStabilizationSeconds: 20}",
        )
        .expect("a ScaledObject");
        assert_eq!(
            so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
            20
        );
    }

    #[test]
    fn nothing_to_build_without_a_prometheus() {
        assert_eq!(built("model: tiny.en\nautoscaling: {maxReplicas: 3}"), None);
    }
}
