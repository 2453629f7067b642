//! Benchmark (not a pass/fail test): apply N WhisperServices (default 1,000; env
//! WHISPER_BENCH_SERVICES) and report time to converge, reconciles per second and the operator
//! process's peak memory. The operator runs as its own process (the crate's binary) so its
//! memory is measured alone. Run: `cargo test -p whisper-operator --test cluster_bench
//! -- --ignored --nocapture`.

mod common;

use std::{process::Stdio, time::Instant};

use common::*;
use k8s_openapi::api::core::v1::Node;
use kube::{
    Api,
    api::{DeleteParams, ListParams, PostParams},
};
use serde_json::json;
use whisper_crds::WhisperService;

const BENCH_LABEL: &str = "whisper-operator-bench";

/// Fake nodes with room for the benchmark's pods (kwok runs them).
async fn add_nodes(nodes: &Api<Node>, count: usize) {
    for i in 0..count {
        let node: Node = serde_json::from_value(json!({
            "metadata": {
                "name": format!("kwok-bench-{i}"),
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"type": "kwok", BENCH_LABEL: "true", "kubernetes.io/hostname": format!("kwok-bench-{i}")},
            },
            "status": {
                "capacity": {"cpu": "1000", "memory": "1000Gi", "pods": "110"},
                "allocatable": {"cpu": "1000", "memory": "1000Gi", "pods": "110"},
            },
        }))
        .expect("node");
        let _ = nodes.create(&PostParams::default(), &node).await;
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn reconciles(addr: &str) -> Option<f64> {
    let body = tokio::process::Command::new("curl")
        .args(["-s", &format!("http://{addr}/metrics")])
        .output()
        .await
        .ok()?
        .stdout;
    String::from_utf8_lossy(&body)
        .lines()
        .find(|l| l.starts_with("whisper_operator_reconciliations_total "))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster); a benchmark"]
async fn bench_apply_many_services() {
    let n: usize = std::env::var("WHISPER_BENCH_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    with_namespaces(&["ws-bench"], |client, ns| async move {
        let ns = ns[0].clone();
        let nodes: Api<Node> = Api::all(client.clone());
        add_nodes(&nodes, n.div_ceil(100)).await;
        let addr = "127.0.0.1:18089";
        let kubeconfig = std::env::var(ENV).expect("kubeconfig");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_whisper-operator"))
            .args(["--listen", addr, "--namespaces", &ns])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the operator binary");
        let pid = child.id().expect("pid");

        let api: Api<WhisperService> = Api::namespaced(client.clone(), &ns);
        let started = Instant::now();
        for i in 0..n {
            let spec = serde_yaml::from_str("model: tiny.en\nserver: {threads: 1}").expect("spec");
            api.create(
                &PostParams::default(),
                &WhisperService::new(&format!("b{i}"), spec),
            )
            .await
            .expect("create");
        }
        let applied = started.elapsed();
        let converged = eventually(900, "every WhisperService Ready", || async {
            let list = api.list(&ListParams::default()).await.ok()?;
            let ready = list
                .items
                .iter()
                .filter(|w| {
                    w.status.as_ref().is_some_and(|s| {
                        s.conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                    })
                })
                .count();
            (ready == n).then(|| started.elapsed())
        })
        .await;
        let total = reconciles(addr).await.unwrap_or(0.0);
        let peak = peak_rss_kib(pid).unwrap_or(0);
        println!("services: {n}");
        println!("created in: {:.1} s", applied.as_secs_f64());
        println!(
            "time to converge (all Ready, from first create): {:.1} s",
            converged.as_secs_f64()
        );
        println!(
            "reconciles: {total} ({:.1}/s over the convergence time)",
            total / converged.as_secs_f64()
        );
        println!("operator peak RSS: {:.1} MiB", peak as f64 / 1024.0);
        let _ = child.kill().await;
        for i in 0..n.div_ceil(100) {
            let _ = nodes
                .delete(&format!("kwok-bench-{i}"), &DeleteParams::default())
                .await;
        }
    })
    .await;
}
