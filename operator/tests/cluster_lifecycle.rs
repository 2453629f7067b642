//! A WhisperService's whole life on a real API server: children with owner references, status,
//! spec changes reaching the children, garbage collection, the cross-namespace dashboard, and a
//! child the API server refuses reported as Degraded.

mod common;

use common::*;
use k8s_openapi::api::{
    apps::v1::Deployment,
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{ConfigMap, ResourceQuota, Service},
    policy::v1::PodDisruptionBudget,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
    core::{ApiResource, GroupVersionKind},
};
use serde_json::json;
use whisper_crds::WhisperService;

fn monitoring_api(client: &Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("monitoring.coreos.com", "v1", kind));
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn owned_by(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ws: &WhisperService,
) -> bool {
    meta.owner_references.iter().flatten().any(|o| {
        o.kind == "WhisperService"
            && Some(&o.uid) == ws.metadata.uid.as_ref()
            && o.controller == Some(true)
    })
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn minimal_service_gets_every_child_then_follows_changes_and_is_collected_on_delete() {
    with_namespaces(&["ws-life"], |client, ns| async move {
        let ns = &ns[0];
        let op = start_operator(&client, std::slice::from_ref(ns));
        let ws = create_service(&client, ns, "tiny", "model: tiny.en").await;

        // Every child exists and is owned by the WhisperService.
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let services: Api<Service> = Api::namespaced(client.clone(), ns);
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        let sms = monitoring_api(&client, ns, "ServiceMonitor");
        let prs = monitoring_api(&client, ns, "PrometheusRule");
        let dep = eventually(30, "Deployment", || async { deployments.get_opt("tiny").await.ok().flatten() }).await;
        assert!(owned_by(&dep.metadata, &ws));
        let svc = eventually(30, "Service", || async { services.get_opt("tiny").await.ok().flatten() }).await;
        assert!(owned_by(&svc.metadata, &ws));
        let cm = eventually(30, "dashboard", || async { config_maps.get_opt("tiny-dashboard").await.ok().flatten() }).await;
        assert!(owned_by(&cm.metadata, &ws));
        assert_eq!(cm.labels().get("grafana_dashboard").map(String::as_str), Some("1"));
        let sm = eventually(30, "ServiceMonitor", || async { sms.get_opt("tiny").await.ok().flatten() }).await;
        assert!(owned_by(&sm.metadata, &ws));
        assert_eq!(sm.data["spec"]["endpoints"][0]["interval"], "5s");
        let pr = eventually(30, "PrometheusRule", || async { prs.get_opt("tiny").await.ok().flatten() }).await;
        assert!(owned_by(&pr.metadata, &ws));

        // Status: kwok runs the pod, so the service becomes Ready.
        wait_condition(&client, ns, "tiny", "Ready", "True", "AllReplicasReady", 60).await;
        wait_condition(&client, ns, "tiny", "MonitoringReady", "True", "MonitoringApplied", 10).await;
        let api: Api<WhisperService> = Api::namespaced(client.clone(), ns);
        let status = api.get("tiny").await.expect("get").status.expect("status");
        assert_eq!(status.observed_generation, Some(1));
        assert_eq!(status.ready_replicas, 1);
        assert_eq!(status.endpoint.as_deref(), Some(format!("http://tiny.{ns}.svc:8000/v1").as_str()));

        // A spec change reaches the children: threads → CPU request, replicas, HPA appears.
        let patch = json!({"spec": {"replicas": 2, "server": {"threads": 3, "parallel": 1},
            "autoscaling": {"minReplicas": 2, "maxReplicas": 5}, "monitoring": {"alerts": {"enabled": false}}}});
        api.patch("tiny", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch spec");
        eventually(30, "Deployment with 2 replicas and cpu 3", || async {
            let d = deployments.get("tiny").await.ok()?;
            let spec = d.spec?;
            let cpu = spec.template.spec?.containers[0].resources.clone()?.requests?.get("cpu")?.0.clone();
            (spec.replicas == Some(2) && cpu == "3").then_some(())
        })
        .await;
        let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), ns);
        let hpa = eventually(30, "HPA", || async { hpas.get_opt("tiny").await.ok().flatten() }).await;
        assert!(owned_by(&hpa.metadata, &ws));
        // More than one replica: a disruption budget lets evictions take one pod at a time.
        let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), ns);
        let pdb = eventually(30, "PodDisruptionBudget", || async { pdbs.get_opt("tiny").await.ok().flatten() }).await;
        assert!(owned_by(&pdb.metadata, &ws));
        assert_eq!(pdb.spec.and_then(|s| s.max_unavailable), Some(IntOrString::Int(1)));
        eventually(30, "PrometheusRule removed when alerts are off", || async {
            prs.get_opt("tiny").await.ok()?.is_none().then_some(())
        })
        .await;
        wait_condition(&client, ns, "tiny", "Ready", "True", "AllReplicasReady", 60).await;

        // `kubectl scale` goes through the scale subresource.
        api.patch_scale("tiny", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"replicas": 3}})))
            .await
            .expect("scale");
        eventually(30, "Deployment scaled to 3", || async {
            (deployments.get("tiny").await.ok()?.spec?.replicas == Some(3)).then_some(())
        })
        .await;

        // Scaling on requests in flight without KEDA: the CPU HPA stays, and the status says why.
        let in_flight = json!({"spec": {"autoscaling": {"minReplicas": 2, "maxReplicas": 5,
            "signal": "InFlight", "prometheusAddress": "http://prometheus.monitoring.svc:9090"}}});
        api.patch("tiny", &PatchParams::default(), &Patch::Merge(&in_flight)).await.expect("patch");
        let msg = wait_condition(&client, ns, "tiny", "AutoscalingReady", "False", "KEDAMissing", 30).await;
        assert!(msg.contains("scaling on CPU until KEDA is installed"), "{msg}");
        assert!(hpas.get_opt("tiny").await.expect("get HPA").is_some(), "the CPU HPA stands in");

        // Removing autoscaling removes the HPA.
        api.patch("tiny", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"autoscaling": null}})))
            .await
            .expect("patch");
        eventually(30, "HPA removed", || async { hpas.get_opt("tiny").await.ok()?.is_none().then_some(()) }).await;

        // Back to one replica: the budget goes, or it would block every drain of that pod's node.
        api.patch_scale("tiny", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"replicas": 1}})))
            .await
            .expect("scale");
        eventually(30, "PodDisruptionBudget removed at 1 replica", || async {
            pdbs.get_opt("tiny").await.ok()?.is_none().then_some(())
        })
        .await;

        // Deleting the WhisperService: the garbage collector removes every child.
        api.delete("tiny", &DeleteParams::foreground()).await.expect("delete");
        eventually(60, "children garbage-collected", || async {
            let gone = deployments.get_opt("tiny").await.ok()?.is_none()
                && services.get_opt("tiny").await.ok()?.is_none()
                && config_maps.get_opt("tiny-dashboard").await.ok()?.is_none()
                && sms.get_opt("tiny").await.ok()?.is_none()
                && api.get_opt("tiny").await.ok()?.is_none();
            gone.then_some(())
        })
        .await;
        op.abort();
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn dashboard_in_another_namespace_is_removed_by_the_finalizer_on_delete() {
    with_namespaces(&["ws-dash", "grafana"], |client, names| async move {
        let (ns, grafana) = (&names[0], &names[1]);
        let op = start_operator(&client, std::slice::from_ref(ns));
        let spec = format!("model: base\nmonitoring: {{dashboard: {{namespace: {grafana}}}}}");
        create_service(&client, ns, "far", &spec).await;
        let remote: Api<ConfigMap> = Api::namespaced(client.clone(), grafana);
        let cm_name = format!("{ns}-far-dashboard");
        let cm = eventually(30, "remote dashboard", || async {
            remote.get_opt(&cm_name).await.ok().flatten()
        })
        .await;
        assert!(cm.metadata.owner_references.is_none());
        let api: Api<WhisperService> = Api::namespaced(client.clone(), ns);
        eventually(30, "finalizer added", || async {
            api.get("far")
                .await
                .ok()?
                .finalizers()
                .iter()
                .any(|f| f == "whisper-operator.io/dashboard")
                .then_some(())
        })
        .await;

        api.delete("far", &DeleteParams::default())
            .await
            .expect("delete");
        eventually(60, "remote dashboard and service gone", || async {
            (remote.get_opt(&cm_name).await.ok()?.is_none()
                && api.get_opt("far").await.ok()?.is_none())
            .then_some(())
        })
        .await;
        op.abort();
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn a_child_the_api_server_refuses_is_reported_as_degraded_until_it_is_applied() {
    with_namespaces(&["ws-degraded"], |client, ns| async move {
        let ns = &ns[0];
        // A quota of no Services: the API server's ResourceQuota admission refuses the
        // operator's Service, while the Deployment, applied before it, goes through.
        let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), ns);
        let quota: ResourceQuota = serde_json::from_value(json!({
            "metadata": {"name": "no-services"},
            "spec": {"hard": {"services": "0"}},
        }))
        .expect("quota object");
        quotas
            .create(&PostParams::default(), &quota)
            .await
            .expect("create quota");
        let op = start_operator(&client, std::slice::from_ref(ns));
        create_service(&client, ns, "refused", "model: tiny.en").await;
        let msg = wait_condition(
            &client,
            ns,
            "refused",
            "Degraded",
            "True",
            "ApplyFailed",
            30,
        )
        .await;
        assert!(
            msg.starts_with("applying Service: ") && msg.contains("quota"),
            "{msg}"
        );
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        assert!(
            deployments.get_opt("refused").await.expect("get").is_some(),
            "the children before the refused one are applied"
        );

        // Once the cause is gone, a retry applies everything and Degraded clears.
        quotas
            .delete("no-services", &DeleteParams::default())
            .await
            .expect("delete quota");
        wait_condition(
            &client,
            ns,
            "refused",
            "Ready",
            "True",
            "AllReplicasReady",
            90,
        )
        .await;
        wait_condition(
            &client,
            ns,
            "refused",
            "Degraded",
            "False",
            "AsExpected",
            10,
        )
        .await;
        op.abort();
    })
    .await;
}
