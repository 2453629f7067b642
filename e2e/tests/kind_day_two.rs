//! Day two on kind, under a steady load of real speech sent through a NodePort Service for the
//! whole run: the WhisperService's server settings and image change, one of two pods is deleted,
//! and the node of a replica is drained. No request may fail. Each scenario prints a row of
//! docs/day-two.md's table: requests sent, failed, throttled, median and worst latency, against
//! the same load with nothing happening. `e2e/kind/run.sh` sets the cluster up and runs this.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Api;
use serde_json::json;
use whisper_e2e::chart;
use whisper_e2e::cluster::{Cluster, Mode};
use whisper_e2e::in_cluster;
use whisper_e2e::kind_setup::Setup;
use whisper_e2e::load::{Load, LoadReport};
use whisper_e2e::namespace::TestNamespace;
use whisper_e2e::whisperservice::WhisperServiceRef;
use whisper_e2e::{E2eError, node_port, paths, rollout, speech, tool};

const TRANSCRIPT: &str = "Hello world, the quick brown fox jumps over the lazy dog.";
const READY_TIMEOUT: Duration = Duration::from_secs(300);
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the load runs with nothing happening: the baseline row.
const QUIET: Duration = Duration::from_secs(30);
/// Requests in flight at once: the server's one slot busy and one waiting, so a pod that goes
/// away always has work on it.
const CONCURRENCY: usize = 2;
const SERVICE: &str = "steady";

#[tokio::test]
#[ignore = "needs a kind cluster: e2e/kind/run.sh"]
async fn rolling_changes_pod_loss_and_a_drain_fail_no_request() {
    let cluster = match Cluster::from_env().await {
        Ok(c) if c.mode == Mode::Kind => c,
        Ok(_) => {
            eprintln!("skipped: real pods need WHISPER_E2E_MODE=kind (e2e/kind/run.sh)");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let setup = Setup::from_env();
    let ns = TestNamespace::create(&cluster, "ws-day-two")
        .await
        .expect("namespace");
    let model_url = in_cluster::deploy_model_server(&cluster, &ns.name, &setup.file_name())
        .await
        .expect("model server");
    let values = chart::values_for(Mode::Kind, &[]);
    let release = chart::install(&cluster, &ns.name, &ns.name, &values)
        .await
        .expect("helm install");
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = speech::synthesize(dir.path()).await.expect("speech");

    let svc = WhisperServiceRef::new(&cluster, &ns.name, SERVICE);
    let mut manifest = setup.manifest(&model_url, Some(&setup.model_sha256));
    svc.apply(&manifest).await.expect("apply");
    svc.wait_condition("Ready", "True", READY_TIMEOUT)
        .await
        .expect("Ready");
    let url = node_port::expose(&cluster, &ns.name, SERVICE)
        .await
        .expect("NodePort");
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    let mut record = |scenario: &str, report: LoadReport| {
        eprintln!("{scenario}: {}", report.summary());
        rows.push(report.row(scenario));
        if !report.failures.is_empty() {
            failed.push(format!("{scenario}: {}", report.summary()));
        }
    };

    // Nothing happening: the baseline.
    let load = Load::start(&url, &wav, TRANSCRIPT, CONCURRENCY).expect("load");
    tokio::time::sleep(QUIET).await;
    record(
        "nothing happens (1 replica)",
        load.stop().await.expect("load"),
    );

    // 1. A server setting changes: a new pod is started, and the old one retired once it is ready.
    manifest["spec"]["server"]["queue"] = json!(16);
    let report = during_rollout(&cluster, &ns.name, &url, &wav, || svc.apply(&manifest)).await;
    record("server setting changed", report);

    // 1. The image changes (the same build under another tag).
    let alternate = std::env::var("WHISPER_E2E_SERVER_IMAGE_ALTERNATE")
        .expect("WHISPER_E2E_SERVER_IMAGE_ALTERNATE is set by e2e/kind/run.sh");
    manifest["spec"]["image"] = json!(alternate);
    let report = during_rollout(&cluster, &ns.name, &url, &wav, || svc.apply(&manifest)).await;
    record("image changed", report);

    // Two replicas: a disruption budget appears.
    manifest["spec"]["replicas"] = json!(2);
    svc.apply(&manifest).await.expect("apply 2 replicas");
    let pods = rollout::settled(&cluster, &ns.name, SERVICE, 2, READY_TIMEOUT)
        .await
        .expect("2 replicas");
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(cluster.client.clone(), &ns.name);
    let budget = budgets.get(SERVICE).await.expect("PodDisruptionBudget");
    eprintln!("PodDisruptionBudget: {:?}", budget.spec);

    // 2. One of the two pods is deleted.
    let load = Load::start(&url, &wav, TRANSCRIPT, CONCURRENCY).expect("load");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let victim = pods[0].metadata.name.clone().expect("pod name");
    kubectl(&cluster, &["delete", "pod", "-n", &ns.name, &victim])
        .await
        .expect("kubectl delete pod");
    rollout::settled(&cluster, &ns.name, SERVICE, 2, READY_TIMEOUT)
        .await
        .expect("replaced");
    record("pod deleted (2 replicas)", load.stop().await.expect("load"));

    // 4. The node of a replica is drained (its server pods: the rest of the cluster is shared).
    let pods = rollout::settled(&cluster, &ns.name, SERVICE, 2, READY_TIMEOUT)
        .await
        .expect("2 replicas");
    let node = node_of(&pods[0]);
    let load = Load::start(&url, &wav, TRANSCRIPT, CONCURRENCY).expect("load");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let selector = format!("whisper-operator.io/service={SERVICE}");
    let drained = kubectl(
        &cluster,
        &[
            "drain",
            &node,
            "--pod-selector",
            &selector,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=240s",
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let uncordoned = kubectl(&cluster, &["uncordon", &node]).await;
    rollout::settled(&cluster, &ns.name, SERVICE, 2, READY_TIMEOUT)
        .await
        .expect("2 replicas again after the drain");
    record(
        &format!("node {node} drained (2 replicas)"),
        load.stop().await.expect("load"),
    );
    drained.expect("kubectl drain");
    uncordoned.expect("kubectl uncordon");

    eprintln!("| scenario | load for | sent | failed | throttled (429) | median | worst |");
    eprintln!("|---|---|---|---|---|---|---|");
    for row in &rows {
        eprintln!("{row}");
    }
    assert!(failed.is_empty(), "requests failed: {failed:#?}");
    release.uninstall(&cluster).await.expect("helm uninstall");
}

/// Keeps the load up from a few seconds before `change` until the rollout it causes is over.
async fn during_rollout<F, Fut, T>(
    cluster: &Cluster,
    namespace: &str,
    url: &str,
    wav: &std::path::Path,
    change: F,
) -> LoadReport
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, E2eError>>,
{
    let before = rollout::generation(cluster, namespace, SERVICE)
        .await
        .expect("generation");
    let load = Load::start(url, wav, TRANSCRIPT, CONCURRENCY).expect("load");
    tokio::time::sleep(Duration::from_secs(5)).await;
    change().await.expect("change");
    rollout::finished_after(cluster, namespace, SERVICE, before, ROLLOUT_TIMEOUT)
        .await
        .expect("rollout");
    load.stop().await.expect("load")
}

fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .expect("a scheduled pod")
}

async fn kubectl(cluster: &Cluster, args: &[&str]) -> Result<String, E2eError> {
    tool::run(&paths::tool("kubectl"), &cluster.kubeconfig, args).await
}
