//! GPU placement on kwok's fake GPU nodes, and a clear condition when nothing has room.

mod common;

use common::*;
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, api::ListParams};

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn gpu_pods_land_only_on_gpu_nodes() {
    with_namespaces(&["ws-gpu"], |client, ns| async move {
        let ns = &ns[0];
        let op = start_operator(&client, std::slice::from_ref(ns));
        create_service(
            &client,
            ns,
            "gpu",
            "model: large-v3-turbo\nreplicas: 2\ngpu: {count: 1}",
        )
        .await;
        wait_condition(&client, ns, "gpu", "Ready", "True", "AllReplicasReady", 60).await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let list = pods
            .list(&ListParams::default().labels("whisper-operator.io/service=gpu"))
            .await
            .expect("list pods");
        assert_eq!(list.items.len(), 2);
        for p in list.items {
            let node = p.spec.and_then(|s| s.node_name).unwrap_or_default();
            assert!(node.starts_with("kwok-gpu-"), "GPU pod placed on {node}");
        }
        op.abort();
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn too_many_gpus_stay_pending_with_an_unschedulable_condition() {
    with_namespaces(&["ws-nogpu"], |client, ns| async move {
        let ns = &ns[0];
        let op = start_operator(&client, std::slice::from_ref(ns));
        create_service(&client, ns, "greedy", "model: base\ngpu: {count: 16}").await;
        let msg = wait_condition(
            &client,
            ns,
            "greedy",
            "Degraded",
            "True",
            "Unschedulable",
            60,
        )
        .await;
        assert!(
            msg.contains("nvidia.com/gpu"),
            "scheduler message should name the GPU: {msg}"
        );
        wait_condition(&client, ns, "greedy", "Ready", "False", "Unschedulable", 10).await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let list = pods
            .list(&ListParams::default().labels("whisper-operator.io/service=greedy"))
            .await
            .expect("list");
        assert!(
            list.items
                .iter()
                .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending"))
        );
        op.abort();
    })
    .await;
}
