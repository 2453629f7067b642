//! Without the Prometheus Operator CRDs the service still becomes Ready and a condition says
//! why monitoring is missing; once the CRDs are installed the operator adds the objects.
//!
//! This suite removes the cluster's monitoring CRDs for a while and puts the very same
//! definitions back, so it is the only test in its binary.

mod common;

use common::*;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use kube::{
    Api, Client,
    api::{DeleteParams, DynamicObject, Patch, PatchParams},
    core::{ApiResource, GroupVersionKind},
};

const CRDS: [&str; 2] = [
    "servicemonitors.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
];

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn service_is_ready_without_monitoring_crds_and_gains_monitoring_when_they_arrive() {
    with_namespaces(&["ws-mon"], |client, ns| async move {
        let ns = &ns[0];
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut saved = Vec::new();
        for name in CRDS {
            let mut crd = crds.get(name).await.unwrap_or_else(|e| {
                panic!("{name} must be installed before this test (e2e/cluster.sh up): {e}")
            });
            crd.metadata = kube::api::ObjectMeta {
                name: crd.metadata.name.clone(),
                labels: crd.metadata.labels.clone(),
                annotations: crd.metadata.annotations.clone(),
                ..Default::default()
            };
            crd.status = None;
            saved.push(crd);
            crds.delete(name, &DeleteParams::default())
                .await
                .expect("delete CRD");
        }
        eventually(30, "monitoring CRDs gone", || async {
            for name in CRDS {
                if crds.get_opt(name).await.ok()?.is_some() {
                    return None;
                }
            }
            Some(())
        })
        .await;

        let checks = AssertUnwindSafe(without_then_with_crds(&client, ns, &crds, &saved))
            .catch_unwind()
            .await;
        // Whatever happened, the cluster gets its monitoring CRDs back.
        reinstall(&crds, &saved).await;
        if let Err(panic) = checks {
            std::panic::resume_unwind(panic);
        }
    })
    .await;
}

async fn reinstall(crds: &Api<CustomResourceDefinition>, saved: &[CustomResourceDefinition]) {
    for crd in saved {
        let name = crd.metadata.name.clone().expect("name");
        crds.patch(
            &name,
            &PatchParams::apply("whisper-operator-tests").force(),
            &Patch::Apply(crd),
        )
        .await
        .expect("reinstall CRD");
    }
}

async fn without_then_with_crds(
    client: &Client,
    ns: &str,
    crds: &Api<CustomResourceDefinition>,
    saved: &[CustomResourceDefinition],
) {
    let op = start_operator(client, &[ns.to_string()]);
    create_service(client, ns, "plain", "model: tiny.en").await;
    wait_condition(client, ns, "plain", "Ready", "True", "AllReplicasReady", 60).await;
    let msg = wait_condition(
        client,
        ns,
        "plain",
        "MonitoringReady",
        "False",
        "MonitoringCRDsMissing",
        30,
    )
    .await;
    assert!(msg.contains("monitoring.coreos.com"), "{msg}");

    // Put the same definitions back: the operator notices within its discovery TTL.
    reinstall(crds, saved).await;
    wait_condition(
        client,
        ns,
        "plain",
        "MonitoringReady",
        "True",
        "MonitoringApplied",
        90,
    )
    .await;
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
    ));
    let sms: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    assert!(
        sms.get_opt("plain").await.expect("get").is_some(),
        "ServiceMonitor created after the CRDs arrived"
    );
    op.abort();
}
