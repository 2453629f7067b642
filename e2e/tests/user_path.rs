//! The user's path on a real cluster: install the chart with helm into a namespace that enforces
//! the `restricted` Pod Security Standard, apply a WhisperService, see every child and `Ready`,
//! scale, update, delete. Needs a cluster: WHISPER_E2E_KUBECONFIG (e2e/cluster.sh up, or
//! e2e/kind/run.sh), WHISPER_E2E_MODE=local|kind.

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use serde_json::{Value, json};
use whisper_e2e::chart::{self, Release};
use whisper_e2e::cluster::{Cluster, Mode, client_for};
use whisper_e2e::local_operator::LocalOperator;
use whisper_e2e::namespace::TestNamespace;
use whisper_e2e::transcribe::{PortForward, metric_sum};
use whisper_e2e::whisperservice::{self as ws, WhisperServiceRef};
use whisper_e2e::{E2eError, speech, token};

const NEEDS_CLUSTER: &str = "WHISPER_E2E_KUBECONFIG must name a cluster's admin kubeconfig (e2e/cluster.sh up, or e2e/kind/run.sh)";

/// Kind pulls and loads a model; the local control plane only schedules.
fn ready_timeout(mode: Mode) -> Duration {
    match mode {
        Mode::Local => Duration::from_secs(120),
        Mode::Kind => Duration::from_secs(600),
    }
}

async fn cluster() -> Cluster {
    match Cluster::from_env().await {
        Ok(c) => c,
        Err(e) => panic!("{NEEDS_CLUSTER}: {e}"),
    }
}

/// Installs the chart into `ns` with cluster-wide RBAC and the values of `mode`.
async fn install_chart(
    cluster: &Cluster,
    ns: &TestNamespace,
    mode: Mode,
) -> Result<Release, E2eError> {
    chart::install(cluster, &ns.name, &ns.name, &chart::values_for(mode, &[])).await
}

/// Installs the chart into `ns` (cluster-wide RBAC) and, in local mode, starts the operator
/// with the chart's ServiceAccount.
async fn install(
    cluster: &Cluster,
    ns: &TestNamespace,
) -> Result<(Release, Option<LocalOperator>), E2eError> {
    let release = install_chart(cluster, ns, cluster.mode).await?;
    let operator = match cluster.mode {
        Mode::Local => Some(LocalOperator::start(cluster, &release).await?),
        Mode::Kind => None,
    };
    Ok((release, operator))
}

fn container(deployment: &DynamicObject) -> &Value {
    &deployment.data["spec"]["template"]["spec"]["containers"][0]
}

async fn only_owned(
    cluster: &Cluster,
    svc: &WhisperServiceRef,
    kind: &kube::api::ApiResource,
) -> Result<DynamicObject, E2eError> {
    let mut found = svc.owned(cluster, kind, &svc.namespace).await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(E2eError::Unexpected(format!(
            "expected one {} owned by {}, found {n}",
            kind.kind, svc.name
        ))),
    }
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn cpu_service_install_apply_scale_update_delete() {
    let cluster = cluster().await;
    let ns = TestNamespace::create(&cluster, "ws-e2e-path")
        .await
        .expect("namespace");
    let (release, operator) = install(&cluster, &ns).await.expect("chart installs");
    let result = user_path(&cluster, &ns).await;
    if let (Err(_), Some(op)) = (&result, &operator) {
        eprintln!("--- operator log ---\n{}", op.log_tail());
    }
    result.expect("user path");
    if let Some(op) = operator {
        op.stop().await.expect("operator stops");
    }
    release.uninstall(&cluster).await.expect("helm uninstall");
}

async fn user_path(cluster: &Cluster, ns: &TestNamespace) -> Result<(), E2eError> {
    let svc = WhisperServiceRef::new(cluster, &ns.name, "tiny");
    let sample = ws::load_sample("whisperservice-cpu-tiny.yaml")?;
    svc.apply(&sample).await?;

    // Ready, with observedGeneration caught up, and an endpoint users can call.
    let ready = svc
        .wait_condition("Ready", "True", ready_timeout(cluster.mode))
        .await?;
    let endpoint = ready.data["status"]["endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        endpoint.starts_with("http://"),
        "status.endpoint: {endpoint:?}"
    );

    // Every child, owned by the WhisperService.
    let deployment = only_owned(cluster, &svc, &ws::deployments()).await?;
    let service = only_owned(cluster, &svc, &ws::services()).await?;
    only_owned(cluster, &svc, &ws::service_monitors()).await?;
    only_owned(cluster, &svc, &ws::prometheus_rules()).await?;
    let dashboards = svc.owned(cluster, &ws::config_maps(), &ns.name).await?;
    assert!(
        dashboards
            .iter()
            .any(|cm| cm.data["data"].as_object().is_some_and(|d| d
                .values()
                .any(|v| v.as_str().is_some_and(|s| s.contains("\"panels\""))))),
        "no dashboard ConfigMap owned by the WhisperService"
    );
    assert_eq!(deployment.data["spec"]["replicas"], 1);
    assert_eq!(
        container(&deployment)["resources"]["limits"]["memory"],
        "512Mi"
    );

    if cluster.mode == Mode::Kind {
        transcribe_through_service(cluster, &ns.name, &service).await?;
    }

    // Scale through the scale subresource, as `kubectl scale ws/tiny --replicas=3` does.
    svc.scale(3).await?;
    wait_deployment(cluster, &svc, "replicas 3", |d| {
        d.data["spec"]["replicas"] == 3
    })
    .await?;
    let scaled = svc
        .wait_condition("Ready", "True", ready_timeout(cluster.mode))
        .await?;
    assert_eq!(
        scaled.data["status"]["readyReplicas"], 3,
        "status: {}",
        scaled.data["status"]
    );

    // Update the spec: the Deployment follows.
    let mut updated = sample.clone();
    updated["spec"]["replicas"] = json!(3);
    updated["spec"]["resources"]["limits"]["memory"] = json!("768Mi");
    updated["spec"]["server"]["threads"] = json!(1);
    svc.apply(&updated).await?;
    wait_deployment(cluster, &svc, "memory limit 768Mi and 1 CPU", |d| {
        let c = container(d);
        c["resources"]["limits"]["memory"] == "768Mi"
            && matches!(
                c["resources"]["requests"]["cpu"].as_str(),
                Some("1" | "1000m")
            )
    })
    .await?;
    svc.wait_condition("Ready", "True", ready_timeout(cluster.mode))
        .await?;

    // Delete: garbage collection removes every child.
    ws::delete_and_wait_for_children(cluster, &svc).await?;
    Ok(())
}

async fn wait_deployment(
    cluster: &Cluster,
    svc: &WhisperServiceRef,
    what: &str,
    ok: impl Fn(&DynamicObject) -> bool,
) -> Result<(), E2eError> {
    whisper_e2e::wait::until(
        &format!("Deployment with {what}"),
        Duration::from_secs(60),
        || async {
            let d = only_owned(cluster, svc, &ws::deployments()).await?;
            Ok(if ok(&d) {
                whisper_e2e::wait::Check::Done(())
            } else {
                whisper_e2e::wait::Check::NotYet(format!("{}", container(&d)))
            })
        },
    )
    .await
}

/// Kind only: a real transcription through the Service, then the pod's metrics show it.
async fn transcribe_through_service(
    cluster: &Cluster,
    namespace: &str,
    service: &DynamicObject,
) -> Result<(), E2eError> {
    let name = service.metadata.name.clone().unwrap_or_default();
    let port = service.data["spec"]["ports"][0]["port"]
        .as_u64()
        .unwrap_or(8000) as u16;
    let forward = PortForward::start(cluster, namespace, &name, port).await?;
    let dir = tempfile::tempdir().map_err(|source| E2eError::Io {
        what: "temp dir".into(),
        source,
    })?;
    let wav = speech::synthesize(dir.path()).await?;
    let text = forward.transcribe(&wav).await?;
    assert_eq!(
        speech::normalise(&text),
        speech::normalise(speech::TEXT),
        "transcript: {text:?}"
    );
    let metrics = forward.metrics().await?;
    assert!(
        metric_sum(&metrics, "whisper_transcription_requests_total") >= 1.0,
        "metrics:\n{metrics}"
    );
    assert_eq!(
        metric_sum(&metrics, "whisper_model_loaded"),
        1.0,
        "metrics:\n{metrics}"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn restricted_namespace_refuses_a_privileged_pod_but_admits_the_operator_pod() {
    let cluster = cluster().await;
    let ns = TestNamespace::create(&cluster, "ws-e2e-pss")
        .await
        .expect("namespace");
    let release = install_chart(&cluster, &ns, Mode::Local)
        .await
        .expect("chart installs");
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns.name);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };

    let privileged: Pod = serde_json::from_value(json!({
        "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": true}}]}
    }))
    .expect("pod literal");
    match pods.create(&dry_run, &privileged).await {
        Err(kube::Error::Api(s)) => assert!(
            s.message.contains("restricted"),
            "refused, but why? {}",
            s.message
        ),
        other => panic!("a privileged pod was not refused: {other:?}"),
    }

    // The chart's own pod template, exactly as rendered, passes admission.
    let deployment: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(cluster.client.clone(), &ns.name);
    let template = deployment
        .get(&release.fullname())
        .await
        .expect("operator Deployment")
        .spec
        .expect("spec")
        .template;
    let pod = Pod {
        metadata: kube::api::ObjectMeta {
            name: Some("operator-template".into()),
            ..template.metadata.unwrap_or_default()
        },
        spec: template.spec,
        ..Pod::default()
    };
    pods.create(&dry_run, &pod)
        .await
        .expect("the operator pod template passes `restricted`");
    release.uninstall(&cluster).await.expect("helm uninstall");
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn chart_service_account_gets_what_the_operator_uses_and_nothing_more() {
    let cluster = cluster().await;
    let ns = TestNamespace::create(&cluster, "ws-e2e-rbac")
        .await
        .expect("namespace");
    let release = install_chart(&cluster, &ns, Mode::Local)
        .await
        .expect("chart installs");
    let dir = tempfile::tempdir().expect("temp dir");
    let tok = token::request_token(&cluster, &ns.name, &release.fullname())
        .await
        .expect("token");
    let kubeconfig = token::write_token_kubeconfig(&cluster.kubeconfig, &tok, dir.path(), "sa")
        .expect("kubeconfig");
    let client = client_for(&kubeconfig).await.expect("client");

    let allowed = [
        ("watch", "whisper-operator.io", "whisperservices"),
        ("patch", "whisper-operator.io", "whisperservices/status"),
        ("create", "apps", "deployments"),
        ("patch", "apps", "deployments"),
        ("delete", "", "configmaps"),
        ("patch", "monitoring.coreos.com", "servicemonitors"),
        ("create", "events.k8s.io", "events"),
        ("create", "coordination.k8s.io", "leases"),
    ];
    let denied = [
        ("list", "", "secrets"),
        ("create", "", "pods"),
        ("delete", "apps", "deployments"),
        ("delete", "", "namespaces"),
        ("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
        ("delete", "whisper-operator.io", "whisperservices"),
        ("update", "whisper-operator.io", "whisperservices"),
        (
            "update",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
        ),
    ];
    for (verb, group, resource) in allowed {
        assert!(
            can_i(&client, verb, group, resource, &ns.name).await,
            "SA cannot {verb} {group}/{resource}"
        );
    }
    for (verb, group, resource) in denied {
        assert!(
            !can_i(&client, verb, group, resource, &ns.name).await,
            "SA may {verb} {group}/{resource}, but should not"
        );
    }
    release.uninstall(&cluster).await.expect("helm uninstall");
}

/// `kubectl auth can-i` for the client's own identity.
async fn can_i(
    client: &kube::Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
) -> bool {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_string())),
        None => (resource, None),
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource,
                namespace: Some(namespace.into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    match api.create(&PostParams::default(), &review).await {
        Ok(r) => r.status.is_some_and(|s| s.allowed),
        Err(e) => panic!("SelfSubjectAccessReview failed: {e}"),
    }
}
