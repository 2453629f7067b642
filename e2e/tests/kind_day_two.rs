//! Day two on kind, under a steady load of real speech sent through a NodePort Service for the
//! whole run: the WhisperService's server settings, model and image change, the operator's leader is
//! killed during a change, one of two pods is deleted, the node of a replica is drained, and the
//! API server is stopped for 30 s; no request may fail, and the operator follows a change made
//! after the outage. A server process killed with SIGKILL may fail only the requests sent before
//! the Service dropped it. Each scenario prints a row of docs/day-two.md's table: requests sent, failed, throttled, median and worst latency, against
//! the same load with nothing happening. `e2e/kind/run.sh` sets the cluster up and runs this.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Api;
use kube::api::ListParams;
use serde_json::json;
use whisper_e2e::chart;
use whisper_e2e::cluster::{Cluster, Mode};
use whisper_e2e::kind_node::{container_logs, docker_exec, kubectl, node_named_by, node_of};
use whisper_e2e::kind_setup::KindTest;
use whisper_e2e::load::{Load, LoadReport, Retry};
use whisper_e2e::wait::{self, Check};
use whisper_e2e::whisperservice::WhisperServiceRef;
use whisper_e2e::{E2eError, node_port, rollout, speech};
use whisper_operator::build::SERVER_CONTAINER;

const READY_TIMEOUT: Duration = Duration::from_secs(300);
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the load runs before a scenario starts.
const LEAD_IN: Duration = Duration::from_secs(5);
/// How long the load runs with nothing happening: the baseline row.
const QUIET: Duration = Duration::from_secs(30);
/// Requests in flight at once: the server's one slot busy and one waiting, so a pod that goes
/// away always has work on it.
const CONCURRENCY: usize = 2;
const SERVICE: &str = "steady";
/// After a server is killed: the kubelet sees the container die, the pod turns unready, and
/// kube-proxy drops the endpoint; requests sent to it until then may fail.
const KILL_SETTLE: Duration = Duration::from_secs(10);
const OUTAGE: Duration = Duration::from_secs(30);
/// kubeadm's static pod manifest of the API server on a kind control-plane node.
const APISERVER_MANIFEST: &str = "/etc/kubernetes/manifests/kube-apiserver.yaml";

#[tokio::test]
#[ignore = "needs a kind cluster: e2e/kind/run.sh"]
async fn day_two_under_load_loses_no_request() {
    let Some(KindTest {
        cluster,
        setup,
        ns,
        model_url,
        second_model_url,
    }) = KindTest::start("ws-day-two").await
    else {
        return;
    };
    // Two operator replicas: one leads, the other waits for the Lease.
    let mut values = chart::values_for(Mode::Kind, &[]);
    values["replicas"] = json!(2);
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
    let mut table = Table::default();

    // Nothing happening: the baseline.
    let (report, ()) = under_load(&url, &wav, Retry::Never, tokio::time::sleep(QUIET)).await;
    table.record("nothing happens (1 replica)", report);

    // 1. A server setting changes: a new pod is started, and the old one retired once it is ready.
    manifest["spec"]["server"]["queue"] = json!(16);
    let report = during_rollout(&cluster, &ns.name, &url, &wav, || svc.apply(&manifest)).await;
    table.record("server setting changed", report);

    // 1. The model changes from tiny.en to base (multilingual, twice the memory), both served in
    //    the cluster: a new pod takes traffic only once base is downloaded and loaded.
    manifest["spec"]["model"] = json!(second_model_url);
    manifest["spec"]["modelSha256"] = json!(setup.second_model.sha256);
    manifest["spec"]["resources"]["limits"]["memory"] = json!("1Gi");
    let report = during_rollout(&cluster, &ns.name, &url, &wav, || svc.apply(&manifest)).await;
    table.record("model changed (tiny.en to base)", report);
    let pods = rollout::settled(&cluster, &ns.name, SERVICE, 1, READY_TIMEOUT)
        .await
        .expect("1 replica on base");
    let loaded = model_loaded_line(&cluster, &ns.name, &pods[0]).await;
    assert!(
        loaded.contains("multilingual") && loaded.contains("true"),
        "the new pod did not load the multilingual base model: {loaded}"
    );
    // And back: base takes five times tiny.en's CPU, and the scenarios below want many requests.
    manifest["spec"]["model"] = json!(model_url);
    manifest["spec"]["modelSha256"] = json!(setup.model_sha256);
    manifest["spec"]["resources"]["limits"]["memory"] = json!("512Mi");
    let report = during_rollout(&cluster, &ns.name, &url, &wav, || svc.apply(&manifest)).await;
    table.record("model changed back (base to tiny.en)", report);

    // 1. The image changes (the same build under another tag).
    let alternate = std::env::var("WHISPER_E2E_SERVER_IMAGE_ALTERNATE")
        .expect("WHISPER_E2E_SERVER_IMAGE_ALTERNATE is set by e2e/kind/run.sh");
    manifest["spec"]["image"] = json!(alternate);
    let report = during_rollout(&cluster, &ns.name, &url, &wav, || svc.apply(&manifest)).await;
    table.record("image changed", report);

    // 5. The operator's leader is killed (no grace) as a change is applied: the other replica
    //    takes the Lease, the change completes, the children are the same objects, the status
    //    catches up.
    let lease = release.fullname();
    let leader = lease_holder(&cluster, &ns.name, &lease).await;
    let children_before = deployment_uid(&cluster, &ns.name).await;
    manifest["spec"]["server"]["queue"] = json!(12);
    let report = during_rollout(&cluster, &ns.name, &url, &wav, || async {
        svc.apply(&manifest).await?;
        kubectl(
            &cluster,
            &[
                "delete",
                "pod",
                "-n",
                &ns.name,
                &leader,
                "--grace-period=0",
                "--force",
            ],
        )
        .await
    })
    .await;
    table.record("operator leader killed during a change", report);
    svc.wait_condition("Ready", "True", READY_TIMEOUT)
        .await
        .expect("the status caught up with the change");
    let new_leader = lease_holder(&cluster, &ns.name, &lease).await;
    eprintln!("Lease {lease}: {leader} -> {new_leader}");
    assert_ne!(new_leader, leader, "the Lease stayed with the killed pod");
    assert_eq!(
        deployment_uid(&cluster, &ns.name).await,
        children_before,
        "the Deployment was deleted and created again"
    );

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
    let victim = pods[0].metadata.name.clone().expect("pod name");
    let (report, ()) = under_load(&url, &wav, Retry::Never, async {
        kubectl(&cluster, &["delete", "pod", "-n", &ns.name, &victim])
            .await
            .expect("kubectl delete pod");
        rollout::settled(&cluster, &ns.name, SERVICE, 2, READY_TIMEOUT)
            .await
            .expect("replaced");
    })
    .await;
    table.record("pod deleted (2 replicas)", report);

    // 4. The node of a replica is drained (its server pods: the rest of the cluster is shared).
    let pods = rollout::settled(&cluster, &ns.name, SERVICE, 2, READY_TIMEOUT)
        .await
        .expect("2 replicas");
    let node = node_of(&pods[0]);
    let selector = format!("whisper-operator.io/service={SERVICE}");
    let (report, (drained, uncordoned)) = under_load(&url, &wav, Retry::Never, async {
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
        (drained, uncordoned)
    })
    .await;
    table.record(&format!("node {node} drained (2 replicas)"), report);
    drained.expect("kubectl drain");
    uncordoned.expect("kubectl uncordon");

    // 3. A server process is killed (SIGKILL): what was on its way to it may fail, and so may
    //    what is sent to it until the Service has dropped the endpoint, but a client retrying
    //    as the openai SDKs do by default (0.5 s, then 1 s) gets each through; the kubelet
    //    restarts the container.
    let pods = rollout::settled(&cluster, &ns.name, SERVICE, 2, READY_TIMEOUT)
        .await
        .expect("2 replicas");
    let target = pods[0].metadata.name.clone().expect("pod name");
    let restarts = server_restarts(&pods[0]);
    let pod_api: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns.name);
    let (report, ()) = under_load(&url, &wav, Retry::LikeOpenAiSdk, async {
        kill_server_process(&pods[0]).await.expect("SIGKILL");
        wait::until(
            "the killed server's container to restart in the same pod",
            READY_TIMEOUT,
            || async {
                let pod = pod_api.get(&target).await?;
                Ok(if server_restarts(&pod) > restarts {
                    Check::Done(())
                } else {
                    Check::NotYet(format!("{} restarts", server_restarts(&pod)))
                })
            },
        )
        .await
        .expect("restarted");
        rollout::settled(&cluster, &ns.name, SERVICE, 2, READY_TIMEOUT)
            .await
            .expect("2 replicas ready after the kill");
    })
    .await;
    // The kill is issued as the lead-in ends.
    let killed_at = LEAD_IN.as_secs_f64();
    table.record("server process SIGKILLed (2 replicas)", report.clone());
    let late: Vec<&(f64, String)> = report
        .recovered
        .iter()
        .filter(|(sent_at, _)| *sent_at > killed_at + KILL_SETTLE.as_secs_f64())
        .collect();
    assert!(
        late.is_empty(),
        "requests sent more than {KILL_SETTLE:?} after the kill failed (their retry succeeded): {late:?}"
    );

    // 6. The API server is unreachable for 30 s (its static pod's manifest moved away from the
    //    control plane's kubelet): the server pods keep serving; afterwards the operator follows
    //    a change again.
    let control_plane = node_named_by(&cluster, "node-role.kubernetes.io/control-plane").await;
    let (report, ()) = under_load(&url, &wav, Retry::Never, async {
        docker_exec(&control_plane, &format!("mv {APISERVER_MANIFEST} /root/"))
            .await
            .expect("stop the API server");
        api_server_answers(&cluster, false).await;
        tokio::time::sleep(OUTAGE).await;
        docker_exec(
            &control_plane,
            &format!("mv /root/kube-apiserver.yaml {APISERVER_MANIFEST}"),
        )
        .await
        .expect("start the API server");
        api_server_answers(&cluster, true).await;
    })
    .await;
    table.record("API server unreachable for 30 s (2 replicas)", report);
    // Back to one replica: a change that needs no room for a surge pod (two server pods fill
    // the kind nodes).
    manifest["spec"]["replicas"] = json!(1);
    let before = rollout::generation(&cluster, &ns.name, SERVICE)
        .await
        .expect("generation");
    svc.apply(&manifest)
        .await
        .expect("a change after the outage");
    rollout::finished_after(&cluster, &ns.name, SERVICE, before, ROLLOUT_TIMEOUT)
        .await
        .expect("the operator applied a change made after the outage");
    svc.wait_condition("Ready", "True", READY_TIMEOUT)
        .await
        .expect("the status caught up after the outage");

    table.print();
    assert!(
        table.failed.is_empty(),
        "requests failed: {:#?}",
        table.failed
    );
    release.uninstall(&cluster).await.expect("helm uninstall");
}

/// The scenarios' rows, and those in which a request failed that must not have.
#[derive(Default)]
struct Table {
    rows: Vec<String>,
    failed: Vec<String>,
}

impl Table {
    /// A scenario's row. Any failed request (where the load retries, one whose retries failed
    /// too) fails the test at the end.
    fn record(&mut self, scenario: &str, report: LoadReport) {
        eprintln!("{scenario}: {}", report.summary());
        if !report.failures.is_empty() {
            self.failed
                .push(format!("{scenario}: {}", report.summary()));
        }
        self.rows.push(report.row(scenario));
    }

    fn print(&self) {
        eprintln!(
            "| scenario | load for | sent | failed | failed, retry succeeded | throttled (429) | median | worst |"
        );
        eprintln!("|---|---|---|---|---|---|---|---|");
        for row in &self.rows {
            eprintln!("{row}");
        }
    }
}

/// Starts the load, lets it run for [`LEAD_IN`] so that `scenario` begins mid-stream, runs
/// `scenario` to its end, stops the load, and returns what the load saw and what `scenario` gave.
async fn under_load<T>(
    url: &str,
    wav: &Path,
    retry: Retry,
    scenario: impl Future<Output = T>,
) -> (LoadReport, T) {
    let load = Load::start(url, wav, speech::TEXT, CONCURRENCY, retry).expect("load");
    tokio::time::sleep(LEAD_IN).await;
    let out = scenario.await;
    (load.stop().await.expect("load"), out)
}

/// [`under_load`] around `change` and the rollout it causes.
async fn during_rollout<Fut, T>(
    cluster: &Cluster,
    namespace: &str,
    url: &str,
    wav: &Path,
    change: impl FnOnce() -> Fut,
) -> LoadReport
where
    Fut: Future<Output = Result<T, E2eError>>,
{
    let before = rollout::generation(cluster, namespace, SERVICE)
        .await
        .expect("generation");
    let (report, ()) = under_load(url, wav, Retry::Never, async {
        change().await.expect("change");
        rollout::finished_after(cluster, namespace, SERVICE, before, ROLLOUT_TIMEOUT)
            .await
            .expect("rollout");
    })
    .await;
    report
}

async fn lease_holder(cluster: &Cluster, namespace: &str, lease: &str) -> String {
    Api::<Lease>::namespaced(cluster.client.clone(), namespace)
        .get(lease)
        .await
        .expect("the operator's Lease")
        .spec
        .and_then(|s| s.holder_identity)
        .expect("a holder")
}

/// The uid of the service's one Deployment (there must be exactly one).
async fn deployment_uid(cluster: &Cluster, namespace: &str) -> String {
    let list = Api::<Deployment>::namespaced(cluster.client.clone(), namespace)
        .list(&ListParams::default().labels(&format!("whisper-operator.io/service={SERVICE}")))
        .await
        .expect("list Deployments");
    assert_eq!(list.items.len(), 1, "one Deployment for the service");
    list.items[0].metadata.uid.clone().expect("uid")
}

/// The server's "model loaded" log line in `pod`.
async fn model_loaded_line(cluster: &Cluster, namespace: &str, pod: &Pod) -> String {
    let logs = container_logs(cluster, namespace, pod, SERVER_CONTAINER)
        .await
        .expect("kubectl logs");
    logs.lines()
        .find(|line| line.contains("model loaded"))
        .unwrap_or_else(|| panic!("no 'model loaded' line in the server's log:\n{logs}"))
        .to_string()
}

/// The status of the pod's whisper-server container.
fn server_status(pod: &Pod) -> Option<&ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == SERVER_CONTAINER)
}

fn server_restarts(pod: &Pod) -> i32 {
    server_status(pod).map_or(0, |c| c.restart_count)
}

/// SIGKILL to the pod's whisper-server process, from its kind node (a container of the same
/// name): the container runtime gives the process's PID.
async fn kill_server_process(pod: &Pod) -> Result<String, E2eError> {
    let container = server_status(pod)
        .and_then(|c| c.container_id.clone())
        .ok_or_else(|| E2eError::Unexpected("the server container has no ID".into()))?;
    let id = container.rsplit("://").next().unwrap_or(&container);
    let script = format!(
        "kill -KILL \"$(crictl inspect --output go-template --template '{{{{.info.pid}}}}' {id})\""
    );
    docker_exec(&node_of(pod), &script).await
}

/// Waits until the API server answers (`up`) or stops answering.
async fn api_server_answers(cluster: &Cluster, up: bool) {
    let what = if up { "answer again" } else { "stop answering" };
    wait::until(
        &format!("the API server to {what}"),
        Duration::from_secs(180),
        || async {
            let answers = cluster.client.apiserver_version().await.is_ok();
            Ok(if answers == up {
                Check::Done(())
            } else {
                Check::NotYet(format!("answering: {answers}"))
            })
        },
    )
    .await
    .expect("API server");
}
