//! Killing the operator mid-way and starting a new one converges: state lives in the cluster.

mod common;

use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::json;
use whisper_crds::WhisperService;

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn operator_killed_mid_way_and_restarted_converges() {
    with_namespaces(&["ws-restart"], |client, ns| async move {
        let ns = &ns[0];
        let first = start_operator(&client, std::slice::from_ref(ns));
        let names: Vec<String> = (0..6).map(|i| format!("svc-{i}")).collect();
        for n in &names {
            create_service(&client, ns, n, "model: tiny.en\nserver: {threads: 1}").await;
        }
        // Kill it as soon as it has started working, before everything is done.
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        eventually(30, "first Deployment", || async {
            (!deployments
                .list(&Default::default())
                .await
                .ok()?
                .items
                .is_empty())
            .then_some(())
        })
        .await;
        first.abort();
        let _ = first.await;

        // Changes made while no operator runs are picked up by the next one.
        let api: Api<WhisperService> = Api::namespaced(client.clone(), ns);
        api.patch(
            "svc-0",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 2}})),
        )
        .await
        .expect("patch");
        let second = start_operator(&client, std::slice::from_ref(ns));
        for n in &names {
            wait_condition(&client, ns, n, "Ready", "True", "AllReplicasReady", 90).await;
        }
        let d = deployments.get("svc-0").await.expect("svc-0 deployment");
        assert_eq!(d.spec.and_then(|s| s.replicas), Some(2));
        let ws = api.get("svc-0").await.expect("get");
        assert_eq!(
            ws.status.and_then(|s| s.observed_generation),
            ws.metadata.generation
        );
        second.abort();
    })
    .await;
}
