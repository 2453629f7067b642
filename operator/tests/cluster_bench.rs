//! Benchmark (not a pass/fail test): N WhisperServices (default 1,000; env
//! WHISPER_BENCH_SERVICES) through the operator, against a baseline measured in the same run:
//! the same N sets of children, as the operator builds them, applied straight to the API server
//! by a plain client with the operator's parallelism. Both are timed from the first write to
//! every service Ready (every Deployment ready, for the baseline), polled once a second.
//!
//! Services are spread over namespaces of at most 1,000 (`SERVICES_PER_NAMESPACE`); with
//! more than one namespace the operator watches the whole cluster, as the chart installs it,
//! and runs first, so the baseline's children are never in its caches.
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
/// Services a namespace gets. Kubernetes' scalability thresholds (sig-scalability,
/// configs-and-limits/thresholds.md) hold 2,000 Deployments and 3,000 pods a namespace: the
/// controllers that match selectors scan a namespace's objects on each event, so 10,000 in one
/// namespace would measure the control plane outside what it supports.
const SERVICES_PER_NAMESPACE: usize = 1000;
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

/// Service `i`'s namespace: round robin over `namespaces`.
fn namespace_of(i: usize, namespaces: &[String]) -> &str {
    &namespaces[i % namespaces.len()]
}

/// How many objects of `apis` (one a namespace) are `ready`, or `None` if a list failed.
async fn count_ready<K>(apis: &[Api<K>], ready: impl Fn(&K) -> bool) -> Option<usize>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut count = 0;
    for api in apis {
        let list = api.list(&ListParams::default()).await.ok()?;
        count += list.items.iter().filter(|k| ready(k)).count();
    }
    Some(count)
}

/// The baseline phase: time from the first apply to every Deployment ready.
async fn baseline(
    client: &kube::Client,
    namespaces: &[String],
    n: usize,
) -> Result<Duration, usize> {
    let all: Vec<_> = (0..n)
        .map(|i| {
            let namespace = namespace_of(i, namespaces).to_string();
            let name = format!("b{i}");
            let children = direct::children_of(&namespace, &name, &spec());
            direct::ServiceChildren {
                namespace,
                name,
                children,
            }
        })
        .collect();
    let deployments: Vec<Api<Deployment>> = namespaces
        .iter()
        .map(|ns| Api::namespaced(client.clone(), ns))
        .collect();
    let started = Instant::now();
    direct::apply_all(client, all, PARALLEL).await;
    until_all_ready(n, started, || {
        count_ready(&deployments, |d| {
            d.status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0)
                >= 1
        })
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
/// spell to count reconciles while nothing changes. One namespace is watched alone; several
/// make the operator watch every namespace.
async fn operator(client: &kube::Client, namespaces: &[String], n: usize) -> OperatorRun {
    let kubeconfig = std::env::var(ENV).expect("kubeconfig");
    let watched = match namespaces {
        [one] => one.as_str(),
        _ => "",
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_whisper-operator"))
        .args(["--listen", OPERATOR_ADDR, "--namespaces", watched])
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the operator binary");
    let pid = child.id().expect("pid");
    let apis: Vec<Api<WhisperService>> = namespaces
        .iter()
        .map(|ns| Api::namespaced(client.clone(), ns))
        .collect();
    let started = Instant::now();
    stream::iter(0..n)
        .for_each_concurrent(PARALLEL, |i| {
            let api: Api<WhisperService> =
                Api::namespaced(client.clone(), namespace_of(i, namespaces));
            async move {
                let ws = WhisperService::new(&format!("b{i}"), spec());
                api.create(&PostParams::default(), &ws)
                    .await
                    .expect("create");
            }
        })
        .await;
    let converged = until_all_ready(n, started, || {
        count_ready(&apis, |w| {
            w.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
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
    let spread = n.div_ceil(SERVICES_PER_NAMESPACE).max(1);
    // A cluster-wide operator would cache a baseline run before it.
    let operator_first =
        spread > 1 || std::env::var("WHISPER_BENCH_ORDER").as_deref() == Ok("operator-first");
    let skip_baseline = std::env::var("WHISPER_BENCH_SKIP_BASELINE").as_deref() == Ok("1");
    let prefixes: Vec<String> = ["ws-bench", "ws-direct"]
        .iter()
        .flat_map(|p| (0..spread).map(move |j| format!("{p}-{j}")))
        .collect();
    let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    with_namespaces(&prefixes, |client, ns| async move {
        earlier_runs_gone(&client, &ns).await;
        let (bench_ns, direct_ns) = ns.split_at(spread);
        let nodes: Api<Node> = Api::all(client.clone());
        let node_names: Vec<String> = (0..(2 * n).div_ceil(100))
            .map(|i| format!("kwok-{}-{i}", bench_ns[0]))
            .collect();
        add_nodes(&nodes, &node_names).await;
        let (mut direct_time, mut run) = (None, None);
        for phase in 0..2 {
            let operator_turn = (phase == 0) == operator_first;
            if operator_turn {
                run = Some(operator(&client, bench_ns, n).await);
            } else if !skip_baseline {
                direct_time = Some(baseline(&client, direct_ns, n).await);
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
        println!(
            "order: {}; {spread} namespace(s) a phase",
            if operator_first { "operator first" } else { "baseline first" }
        );
        for name in &node_names {
            let _ = nodes.delete(name, &DeleteParams::default()).await;
        }
    })
    .await;
}
