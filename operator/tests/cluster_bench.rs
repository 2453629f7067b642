//! Benchmark (not a pass/fail test): N WhisperServices (default 1,000; env
//! WHISPER_BENCH_SERVICES) through the operator, against a baseline measured in the same run:
//! the same N sets of children, as the operator builds them, applied straight to the API server
//! by a plain client with the operator's parallelism. Both are timed from the first write to
//! every service Ready (every Deployment ready, for the baseline), polled once a second.
//!
//! Reported in one table: both times and their ratio, reconciles per service, reconciles during
//! an idle spell after convergence, applies that changed nothing, the p99 reconcile time from
//! the operator's own histogram, and the operator's peak RSS (it runs as its own process, the
//! crate's binary, so its memory is measured alone).
//!
//! Run: `cargo test -p whisper-operator --test cluster_bench -- --ignored --nocapture`
//! (the helpers' unit tests run without `--ignored`). Env: WHISPER_BENCH_ORDER=operator-first
//! swaps the phases; WHISPER_BENCH_IDLE_SECONDS (default 30); WHISPER_BENCH_SKIP_BASELINE=1
//! for a memory run at a size the baseline would only slow down; WHISPER_BENCH_POLL_SECONDS
//! (default 1).

mod bench;
mod common;

use std::{
    future::Future,
    process::Stdio,
    time::{Duration, Instant},
};

use bench::{direct, scrape};
use common::*;
use futures::{StreamExt, stream};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Namespace, Node},
};
use kube::{
    Api,
    api::{DeleteParams, ListParams, PostParams},
};
use serde_json::json;
use whisper_crds::{WhisperService, WhisperServiceSpec};

const BENCH_LABEL: &str = "whisper-operator-bench";
/// The operator's default `--concurrency`; the baseline client uses the same.
const PARALLEL: usize = 8;
const OPERATOR_ADDR: &str = "127.0.0.1:18089";
const DURATION: &str = "whisper_operator_reconcile_duration_seconds";

/// Fake nodes with room for the benchmark's pods (kwok runs them), named after the run (a
/// previous run's nodes may still be on their way out).
async fn add_nodes(nodes: &Api<Node>, names: &[String]) {
    for name in names {
        let node: Node = serde_json::from_value(json!({
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"type": "kwok", BENCH_LABEL: "true", "kubernetes.io/hostname": name},
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

/// Waits until the namespaces of earlier runs (same prefixes, other suffixes) are gone: deleting
/// a thousand services' objects keeps the control plane busy for minutes, and a phase measured
/// beside that measures the deletion too.
async fn earlier_runs_gone(client: &kube::Client, ours: &[String]) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let started = Instant::now();
    loop {
        let leftovers: Vec<String> = namespaces
            .list(&ListParams::default())
            .await
            .map(|list| list.items)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|ns| ns.metadata.name)
            .filter(|name| {
                ["ws-bench-", "ws-direct-"]
                    .iter()
                    .any(|p| name.starts_with(p))
                    && !ours.contains(name)
            })
            .collect();
        if leftovers.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    println!(
        "waited {:.0} s for earlier runs' namespaces to go",
        started.elapsed().as_secs_f64()
    );
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

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spec() -> WhisperServiceSpec {
    serde_yaml::from_str("model: tiny.en\nserver: {threads: 1}").expect("spec")
}

/// Polls `count_ready` every WHISPER_BENCH_POLL_SECONDS (default 1) until it reaches `n`;
/// returns the time since `started`, or after WHISPER_BENCH_TIMEOUT_SECONDS (default 3600) how
/// many were ready. Each poll lists every object, which at 10,000 costs the machine more than
/// the answer's precision is worth.
async fn until_all_ready<F, Fut>(
    n: usize,
    started: Instant,
    count_ready: F,
) -> Result<Duration, usize>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<usize>>,
{
    let deadline = started + Duration::from_secs(env_or("WHISPER_BENCH_TIMEOUT_SECONDS", 3600));
    loop {
        let ready = count_ready().await;
        if ready == Some(n) {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            return Err(ready.unwrap_or(0));
        }
        tokio::time::sleep(Duration::from_secs(env_or("WHISPER_BENCH_POLL_SECONDS", 1))).await;
    }
}

fn shown(time: &Result<Duration, usize>, n: usize) -> String {
    match time {
        Ok(d) => format!("{:.1} s", d.as_secs_f64()),
        Err(ready) => format!("timed out, {ready}/{n} ready"),
    }
}

/// The baseline phase: time from the first apply to every Deployment ready.
async fn baseline(client: &kube::Client, ns: &str, n: usize) -> Result<Duration, usize> {
    let all: Vec<_> = (0..n)
        .map(|i| {
            let name = format!("b{i}");
            let children = direct::children_of(ns, &name, &spec());
            (name, children)
        })
        .collect();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let started = Instant::now();
    direct::apply_all(client, ns, all, PARALLEL).await;
    until_all_ready(n, started, || async {
        let list = deployments.list(&ListParams::default()).await.ok()?;
        let ready = list.items.iter().filter(|d| {
            d.status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0)
                >= 1
        });
        Some(ready.count())
    })
    .await
}

/// What the operator phase measured.
struct OperatorRun {
    converged: Result<Duration, usize>,
    reconciles: f64,
    idle_reconciles: f64,
    applies_changed: f64,
    applies_unchanged: f64,
    applies_skipped: f64,
    p99: Option<f64>,
    peak_rss_kib: u64,
}

/// The operator phase: time from the first create to every WhisperService Ready, then an idle
/// spell to count reconciles while nothing changes.
async fn operator(client: &kube::Client, ns: &str, n: usize) -> OperatorRun {
    let kubeconfig = std::env::var(ENV).expect("kubeconfig");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_whisper-operator"))
        .args(["--listen", OPERATOR_ADDR, "--namespaces", ns])
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the operator binary");
    let pid = child.id().expect("pid");
    let api: Api<WhisperService> = Api::namespaced(client.clone(), ns);
    let started = Instant::now();
    stream::iter(0..n)
        .for_each_concurrent(PARALLEL, |i| {
            let api = api.clone();
            async move {
                let ws = WhisperService::new(&format!("b{i}"), spec());
                api.create(&PostParams::default(), &ws)
                    .await
                    .expect("create");
            }
        })
        .await;
    let converged = until_all_ready(n, started, || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        let ready = list.items.iter().filter(|w| {
            w.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        });
        Some(ready.count())
    })
    .await;
    let at_ready = scrape::metrics(OPERATOR_ADDR).await;
    let reconciles = scrape::sum(&at_ready, "whisper_operator_reconciliations_total", &[]);
    tokio::time::sleep(Duration::from_secs(env_or(
        "WHISPER_BENCH_IDLE_SECONDS",
        30,
    )))
    .await;
    let after_idle = scrape::metrics(OPERATOR_ADDR).await;
    let applies = |outcome: &str| {
        let label = format!("outcome=\"{outcome}\"");
        scrape::sum(&at_ready, "whisper_operator_applies_total", &[&label])
    };
    let run = OperatorRun {
        converged,
        reconciles,
        idle_reconciles: scrape::sum(&after_idle, "whisper_operator_reconciliations_total", &[])
            - reconciles,
        applies_changed: applies("changed"),
        applies_unchanged: applies("unchanged"),
        applies_skipped: applies("skipped"),
        p99: scrape::quantile(&at_ready, DURATION, 0.99),
        peak_rss_kib: peak_rss_kib(pid).unwrap_or(0),
    };
    let _ = child.kill().await;
    run
}

#[tokio::test]
#[ignore = "needs a cluster: WHISPER_E2E_KUBECONFIG (make test-cluster); a benchmark"]
async fn bench_apply_many_services() {
    let n: usize = env_or("WHISPER_BENCH_SERVICES", 1000);
    let operator_first = std::env::var("WHISPER_BENCH_ORDER").as_deref() == Ok("operator-first");
    let skip_baseline = std::env::var("WHISPER_BENCH_SKIP_BASELINE").as_deref() == Ok("1");
    with_namespaces(&["ws-bench", "ws-direct"], |client, ns| async move {
        earlier_runs_gone(&client, &ns).await;
        let nodes: Api<Node> = Api::all(client.clone());
        let node_names: Vec<String> = (0..(2 * n).div_ceil(100))
            .map(|i| format!("kwok-{}-{i}", ns[0]))
            .collect();
        add_nodes(&nodes, &node_names).await;
        let (mut direct_time, mut run) = (None, None);
        for phase in 0..2 {
            let operator_turn = (phase == 0) == operator_first;
            if operator_turn {
                run = Some(operator(&client, &ns[0], n).await);
            } else if !skip_baseline {
                direct_time = Some(baseline(&client, &ns[1], n).await);
            }
        }
        let run = run.expect("operator phase ran");
        let ratio = match (&run.converged, &direct_time) {
            (Ok(op), Some(Ok(d))) => format!("{:.2}x", op.as_secs_f64() / d.as_secs_f64()),
            _ => "-".into(),
        };
        println!(
            "| services | baseline: children applied directly, all ready | operator: all Ready | ratio | reconciles / service | reconciles in {} s idle | applies changed / unchanged / skipped | p99 reconcile | operator peak RSS |",
            env_or("WHISPER_BENCH_IDLE_SECONDS", 30)
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        println!(
            "| {n} | {} | {} | {ratio} | {:.2} | {} | {} / {} / {} | {} | {:.1} MiB |",
            direct_time.as_ref().map_or("-".into(), |t| shown(t, n)),
            shown(&run.converged, n),
            run.reconciles / n as f64,
            run.idle_reconciles,
            run.applies_changed,
            run.applies_unchanged,
            run.applies_skipped,
            run.p99.map_or("-".into(), |s| format!("{:.0} ms", s * 1000.0)),
            run.peak_rss_kib as f64 / 1024.0,
        );
        println!("order: {}", if operator_first { "operator first" } else { "baseline first" });
        for name in &node_names {
            let _ = nodes.delete(name, &DeleteParams::default()).await;
        }
    })
    .await;
}
