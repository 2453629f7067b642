//! Invalid objects: refused by the API server's CEL rules with their message, or — for what
//! only the operator knows (the catalogue) — reported in status without retry loops.

mod common;

use common::*;
use kube::{
    Api,
    api::{DynamicObject, Patch, PatchParams, PostParams},
    core::ApiResource,
};
use serde_json::json;
use whisper_crds::WhisperService;

/// Sends the raw JSON (typed structs could not even hold some of these) and returns the
/// API server's refusal message.
async fn refused(api: &Api<DynamicObject>, name: &str, spec: serde_json::Value) -> String {
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "whisper-operator.io/v1alpha1", "kind": "WhisperService",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("object");
    match api.create(&PostParams::default(), &obj).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422, "{s:?}");
            s.message
        }
        other => panic!("expected the API server to refuse {spec}, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn api_server_refuses_invalid_specs_with_the_cel_messages() {
    with_namespaces(&["ws-cel"], |client, ns| async move {
        let ar = ApiResource::erase::<WhisperService>(&());
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns[0], &ar);
        let cases = [
            (json!({"model": "https://example.invalid/m.bin"}), "spec.modelSha256 is required when spec.model is a URL"),
            (json!({"model": "tiny.en", "modelSha256": "a".repeat(64)}), "spec.modelSha256 applies only to a model URL"),
            (json!({"model": "tiny.en", "server": {"threads": 1, "parallel": 2}}), "spec.server.parallel must not exceed spec.server.threads"),
            (json!({"model": "tiny.en", "autoscaling": {"minReplicas": 5, "maxReplicas": 2}}), "spec.autoscaling.maxReplicas must be at least spec.autoscaling.minReplicas"),
            (json!({"model": "tiny.en", "autoscaling": {"maxReplicas": 2, "signal": "InFlight"}}), "spec.autoscaling.signal InFlight needs spec.autoscaling.prometheusAddress"),
            (json!({"model": "tiny.en", "autoscaling": {"maxReplicas": 2, "signal": "Queue"}}), "spec.autoscaling.signal"),
            (json!({"model": "tiny.en", "autoscaling": {"maxReplicas": 2, "signal": "InFlight", "prometheusAddress": "prometheus:9090"}}), "spec.autoscaling.prometheusAddress"),
            (json!({"model": "tiny.en", "modelCache": {"emptyDir": {}, "persistentVolumeClaim": {"claimName": "c"}}}), "spec.modelCache takes either emptyDir or persistentVolumeClaim, not both"),
            (json!({"model": "tiny.en", "resources": {"requests": {"cpu": "1"}}}), "spec.resources.requests.cpu is derived from spec.server.threads"),
            (json!({"model": "tiny.en", "replicas": -1}), "spec.replicas"),
            (json!({"model": "tiny.en", "service": {"type": "ExternalName"}}), "spec.service.type"),
            (json!({"model": "tiny.en", "server": {"chunking": "sometimes"}}), "spec.server.chunking"),
            (json!({"model": "tiny.en", "monitoring": {"serviceMonitor": {"interval": "often"}}}), "spec.monitoring.serviceMonitor.interval"),
        ];
        for (spec, expected) in cases {
            let message = refused(&api, "bad", spec.clone()).await;
            assert!(message.contains(expected), "for {spec}: {message}");
        }
        // Names the API server takes for any object but that cannot name the Service.
        for name in ["1st", "a.b", &"a".repeat(64)] {
            let message = refused(&api, name, json!({"model": "tiny.en"})).await;
            assert!(message.contains("metadata.name must be a DNS-1035 label"), "for {name}: {message}");
        }
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn unknown_catalogue_model_is_reported_in_status_and_fixed_by_an_edit() {
    with_namespaces(&["ws-invalid"], |client, ns| async move {
        let ns = &ns[0];
        let op = start_operator(&client, std::slice::from_ref(ns));
        create_service(&client, ns, "typo", "model: tiny-en").await;
        let msg = wait_condition(&client, ns, "typo", "Degraded", "True", "InvalidSpec", 30).await;
        assert!(
            msg.contains("\"tiny-en\"") && msg.contains("tiny.en"),
            "{msg}"
        );
        let api: Api<WhisperService> = Api::namespaced(client.clone(), ns);
        api.patch(
            "typo",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"model": "tiny.en"}})),
        )
        .await
        .expect("fix the model");
        wait_condition(&client, ns, "typo", "Ready", "True", "AllReplicasReady", 60).await;
        op.abort();
    })
    .await;
}
