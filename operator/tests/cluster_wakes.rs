//! What wakes a WhisperService, on a real API server: a service reaches Ready in few reconciles,
//! is not reconciled at all while nothing changes, and a child deleted or edited by someone else
//! (a Service, a ServiceMonitor, the Deployment's spec) is put back at once by the watches (the
//! periodic resync is an hour away).

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
use kube::{
    Api,
    api::{DeleteParams, DynamicObject, Patch, PatchParams},
    core::{ApiResource, GroupVersionKind},
};
use serde_json::json;
use whisper_operator::metrics::Metrics;

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn quiet_while_nothing_changes_and_children_repaired_by_the_watches() {
    with_namespaces(&["ws-wakes"], |client, ns| async move {
        let ns = &ns[0];
        let metrics = Metrics::new().expect("metrics");
        let op = start_operator_counted(&client, std::slice::from_ref(ns), metrics.clone());
        create_service(&client, ns, "tiny", "model: tiny.en").await;
        wait_condition(&client, ns, "tiny", "Ready", "True", "AllReplicasReady", 60).await;

        // From create to Ready: the create, and the Deployment's ready replica (a third may come
        // from the Deployment's first status update racing the create's reconcile).
        let to_ready = metrics.reconciliations.get();
        assert!(
            (1..=3).contains(&to_ready),
            "{to_ready} reconciles from create to Ready"
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            metrics.reconciliations.get(),
            to_ready,
            "reconciles while nothing changed"
        );
        let unchanged = metrics
            .applies
            .with_label_values(&["Deployment", "unchanged"])
            .get();
        assert!(
            unchanged >= 1,
            "the second reconcile's Deployment apply changed nothing"
        );

        // Someone else deletes the Service: it is back within seconds.
        let services: Api<Service> = Api::namespaced(client.clone(), ns);
        let old_uid = services.get("tiny").await.expect("service").metadata.uid;
        services
            .delete("tiny", &DeleteParams::default())
            .await
            .expect("delete service");
        eventually(15, "Service recreated", || async {
            let svc = services.get_opt("tiny").await.ok()??;
            (svc.metadata.uid != old_uid).then_some(())
        })
        .await;

        // And a ServiceMonitor (watched when the cluster serves the kind at start).
        let monitors: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            ns,
            &ApiResource::from_gvk(&GroupVersionKind::gvk(
                "monitoring.coreos.com",
                "v1",
                "ServiceMonitor",
            )),
        );
        let old_uid = monitors
            .get("tiny")
            .await
            .expect("service monitor")
            .metadata
            .uid;
        monitors
            .delete("tiny", &DeleteParams::default())
            .await
            .expect("delete service monitor");
        eventually(15, "ServiceMonitor recreated", || async {
            let sm = monitors.get_opt("tiny").await.ok()??;
            (sm.metadata.uid != old_uid).then_some(())
        })
        .await;

        // Someone else edits the Deployment's spec: the operator's value is restored.
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        deployments
            .patch(
                "tiny",
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"replicas": 4}})),
            )
            .await
            .expect("edit deployment");
        eventually(15, "Deployment back to 1 replica", || async {
            let d = deployments.get("tiny").await.ok()?;
            (d.spec?.replicas == Some(1)).then_some(())
        })
        .await;
        wait_condition(&client, ns, "tiny", "Ready", "True", "AllReplicasReady", 60).await;
        op.abort();
    })
    .await;
}
