//! GPU scheduling on the local control plane, where kwok nodes advertise `nvidia.com/gpu`:
//! a GPU WhisperService lands only on GPU nodes with room; with none free its pods stay Pending
//! and the status says why; CPU-only services never take a GPU node's GPUs.
//! Needs WHISPER_E2E_KUBECONFIG and WHISPER_E2E_MODE=local (kind has no GPU nodes).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;
use serde_json::json;
use whisper_e2e::E2eError;
use whisper_e2e::chart;
use whisper_e2e::cluster::{Cluster, Mode};
use whisper_e2e::local_operator::LocalOperator;
use whisper_e2e::namespace::TestNamespace;
use whisper_e2e::wait::{self, Check};
use whisper_e2e::whisperservice::{self as ws, WhisperServiceRef, condition};

const GPU: &str = "nvidia.com/gpu";
const GPU_NODE_LABEL: &str = "nvidia.com/gpu.present=true";

/// Connects, or returns None in kind mode (no GPU nodes there).
async fn local_cluster() -> Option<Cluster> {
    let cluster = match Cluster::from_env().await {
        Ok(c) => c,
        Err(e) => panic!(
            "WHISPER_E2E_KUBECONFIG must name the local control plane's admin kubeconfig (e2e/cluster.sh up): {e}"
        ),
    };
    if cluster.mode == Mode::Kind {
        eprintln!(
            "skipped: GPU scheduling runs on the local control plane's kwok GPU nodes, not on kind"
        );
        return None;
    }
    Some(cluster)
}

/// GPU nodes and their allocatable GPUs.
async fn gpu_nodes(cluster: &Cluster) -> BTreeMap<String, i64> {
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let list = nodes
        .list(&ListParams::default().labels(GPU_NODE_LABEL))
        .await
        .expect("list nodes");
    let gpus = list
        .items
        .into_iter()
        .map(|n| {
            let alloc = n
                .status
                .and_then(|s| s.allocatable)
                .and_then(|a| a.get(GPU).map(|q| q.0.parse::<i64>().unwrap_or(0)));
            (n.metadata.name.unwrap_or_default(), alloc.unwrap_or(0))
        })
        .collect::<BTreeMap<_, _>>();
    assert!(
        !gpus.is_empty(),
        "the cluster has no node labelled {GPU_NODE_LABEL}"
    );
    gpus
}

fn gpu_request(pod: &Pod) -> i64 {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(GPU))
        .map(|q| q.0.parse::<i64>().unwrap_or(0))
        .sum()
}

fn is_gpu_tolerant_and_selecting(pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let tolerates = spec
        .and_then(|s| s.tolerations.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.key.as_deref() == Some(GPU)));
    let selects = spec
        .and_then(|s| s.node_selector.as_ref())
        .is_some_and(|sel| sel.get("nvidia.com/gpu.present").map(String::as_str) == Some("true"));
    tolerates && selects
}

/// GPUs on GPU nodes not yet requested by a running or pending-bound pod.
async fn free_gpus(cluster: &Cluster, nodes: &BTreeMap<String, i64>) -> i64 {
    let pods: Api<Pod> = Api::all(cluster.client.clone());
    let used: i64 = pods
        .list(&ListParams::default())
        .await
        .expect("list pods")
        .items
        .iter()
        .filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some_and(|n| nodes.contains_key(n))
        })
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .map(gpu_request)
        .sum();
    nodes.values().sum::<i64>() - used
}

/// The WhisperService's pods, via the label selector it publishes for its scale subresource.
async fn pods_of(cluster: &Cluster, svc: &WhisperServiceRef) -> Result<Vec<Pod>, E2eError> {
    let obj = svc.get().await?;
    let Some(selector) = obj.data["status"]["selector"].as_str() else {
        return Ok(vec![]);
    };
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &svc.namespace);
    Ok(pods
        .list(&ListParams::default().labels(selector))
        .await?
        .items)
}

/// Waits until `n` pods exist and all are bound to a node; returns them.
async fn wait_bound(cluster: &Cluster, svc: &WhisperServiceRef, n: usize) -> Vec<Pod> {
    wait::until(
        &format!("{n} pods of {} bound to nodes", svc.name),
        Duration::from_secs(120),
        || async {
            let pods = pods_of(cluster, svc).await?;
            let bound = pods
                .iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
                .count();
            Ok(if pods.len() == n && bound == n {
                Check::Done(pods)
            } else {
                Check::NotYet(format!("{} pods, {bound} bound", pods.len()))
            })
        },
    )
    .await
    .expect("pods scheduled")
}

fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

/// Waits until a pod is Unschedulable and the WhisperService's status explains it.
async fn wait_pending_explained(cluster: &Cluster, svc: &WhisperServiceRef) {
    wait::until(
        &format!("{} to report unschedulable GPU pods", svc.name),
        Duration::from_secs(120),
        || async {
            let pods = pods_of(cluster, svc).await?;
            let unschedulable = pods.iter().any(|p| {
                node_of(p).is_empty()
                    && p.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| {
                                c.type_ == "PodScheduled"
                                    && c.status == "False"
                                    && c.reason.as_deref() == Some("Unschedulable")
                            })
                        })
            });
            let obj = svc.get().await?;
            let explained = ["Ready", "Degraded", "Progressing"].iter().any(|t| {
                condition(&obj.data, t).is_some_and(|c| {
                    let text = format!("{} {}", c.reason, c.message).to_lowercase();
                    text.contains("insufficient nvidia.com/gpu")
                })
            });
            let not_ready = condition(&obj.data, "Ready").is_some_and(|c| c.status != "True");
            Ok(if unschedulable && explained && not_ready {
                Check::Done(obj.data["status"]["conditions"].to_string())
            } else {
                Check::NotYet(format!(
                    "unschedulable pod: {unschedulable}; status: {}",
                    obj.data["status"]
                ))
            })
        },
    )
    .await
    .map(|conditions| eprintln!("{}: pods Pending; conditions: {conditions}", svc.name))
    .expect("Pending with a reason");
}

/// The GPU sample with one CPU per pod, so GPU nodes run out of GPUs before CPUs and the
/// scheduler's reason is the GPU alone.
fn small_gpu_sample() -> serde_json::Value {
    let mut manifest = ws::load_sample("whisperservice-gpu.yaml").expect("sample");
    manifest["spec"]["server"]["threads"] = json!(1);
    manifest["spec"]["server"]["parallel"] = json!(1);
    manifest
}

async fn start(cluster: &Cluster, prefix: &str) -> (TestNamespace, chart::Release, LocalOperator) {
    let ns = TestNamespace::create(cluster, prefix)
        .await
        .expect("namespace");
    // Limited to its namespace, so tests running side by side each reconcile only their own.
    let values = chart::values_for(Mode::Local, &[ns.name.as_str()]);
    let release = chart::install(cluster, &ns.name, &ns.name, &values)
        .await
        .expect("chart installs");
    let operator = LocalOperator::start(cluster, &release)
        .await
        .expect("operator starts");
    (ns, release, operator)
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn gpu_service_fills_only_gpu_nodes_then_waits_pending_and_cpu_service_takes_no_gpus() {
    let Some(cluster) = local_cluster().await else {
        return;
    };
    let (ns, release, operator) = start(&cluster, "ws-e2e-gpu").await;
    let nodes = gpu_nodes(&cluster).await;
    let free = free_gpus(&cluster, &nodes).await;
    assert!(free >= 1, "no free GPU on {nodes:?}");

    // As many one-GPU replicas as there are free GPUs: every one lands on a GPU node.
    let fill = WhisperServiceRef::new(&cluster, &ns.name, "gpu-fill");
    let mut manifest = small_gpu_sample();
    manifest["spec"]["replicas"] = json!(free);
    fill.apply(&manifest).await.expect("apply");
    for pod in wait_bound(&cluster, &fill, free as usize).await {
        assert!(
            nodes.contains_key(&node_of(&pod)),
            "GPU pod on non-GPU node {}",
            node_of(&pod)
        );
        assert_eq!(gpu_request(&pod), 1);
        assert!(
            is_gpu_tolerant_and_selecting(&pod),
            "GPU pod lacks the GPU toleration/node selector"
        );
    }
    fill.wait_condition("Ready", "True", Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", operator.log_tail()));

    // CPU-only replicas: never on a GPU node, never a GPU request.
    let cpu = WhisperServiceRef::new(&cluster, &ns.name, "cpu");
    let mut manifest = ws::load_sample("whisperservice-cpu-tiny.yaml").expect("sample");
    manifest["spec"]["replicas"] = json!(2);
    cpu.apply(&manifest).await.expect("apply");
    for pod in wait_bound(&cluster, &cpu, 2).await {
        assert!(
            !nodes.contains_key(&node_of(&pod)),
            "CPU pod took GPU node {}",
            node_of(&pod)
        );
        assert_eq!(gpu_request(&pod), 0);
    }
    assert_eq!(
        free_gpus(&cluster, &nodes).await,
        0,
        "CPU pods or others took GPUs"
    );

    // One more GPU replica: no GPU is free, so it stays Pending and the status says why.
    let extra = WhisperServiceRef::new(&cluster, &ns.name, "gpu-extra");
    extra.apply(&small_gpu_sample()).await.expect("apply");
    wait_pending_explained(&cluster, &extra).await;

    // Freeing GPUs lets it schedule.
    fill.scale((free - 1).max(0) as i32)
        .await
        .expect("scale down");
    wait_bound(&cluster, &extra, 1).await;

    operator.stop().await.expect("operator stops");
    release.uninstall(&cluster).await.expect("helm uninstall");
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster)"]
async fn gpu_service_asking_more_gpus_than_any_node_has_stays_pending_with_a_reason() {
    let Some(cluster) = local_cluster().await else {
        return;
    };
    let (ns, release, operator) = start(&cluster, "ws-e2e-gpu-big").await;
    let most = gpu_nodes(&cluster)
        .await
        .values()
        .copied()
        .max()
        .unwrap_or(0);
    let svc = WhisperServiceRef::new(&cluster, &ns.name, "gpu-big");
    let mut manifest = ws::load_sample("whisperservice-gpu.yaml").expect("sample");
    manifest["spec"]["gpu"]["count"] = json!(most + 1);
    svc.apply(&manifest).await.expect("apply");
    wait_pending_explained(&cluster, &svc).await;
    operator.stop().await.expect("operator stops");
    release.uninstall(&cluster).await.expect("helm uninstall");
}
