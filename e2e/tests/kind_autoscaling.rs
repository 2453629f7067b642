//! Autoscaling on kind's real pods under a load step: a WhisperService with autoscaling 1 to 3
//! replicas gets a steady load above what one pod serves, scales out through its scale
//! subresource, and scales back in once the load stops (a 30 s stabilisation window in the
//! spec). On requests in flight (KEDA reading Prometheus) and on CPU (metrics-server), one after
//! the other on the same cluster, in the order in flight, CPU, CPU, in flight. Each step prints how long the autoscaler took to decide,
//! how long until the new replica was Ready, how long the scale-in took, and what the load saw;
//! docs/day-two.md keeps the figures. `e2e/kind/run.sh autoscaling` sets the cluster up (with
//! metrics-server and KEDA) and runs this.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::Api;
use kube::api::ListParams;
use serde_json::json;
use whisper_e2e::chart;
use whisper_e2e::cluster::{Cluster, Mode};
use whisper_e2e::kind_node::kubectl;
use whisper_e2e::kind_setup::KindTest;
use whisper_e2e::load::{Load, LoadReport, Retry};
use whisper_e2e::prometheus::PrometheusApi;
use whisper_e2e::transcribe::PortForward;
use whisper_e2e::wait::{self, Check};
use whisper_e2e::whisperservice::WhisperServiceRef;
use whisper_e2e::{node_port, rollout, speech};
use whisper_operator::build::in_flight_query;

const READY_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest the autoscaler may take to act on a load step (or on its end).
const REACTION_TIMEOUT: Duration = Duration::from_secs(300);
/// Requests kept in flight during the step: the server has one slot, so three wait.
const STEP_CONCURRENCY: usize = 4;
/// How long the load goes on once the second replica is Ready, so that traffic reaches it.
const AFTER_SCALE_OUT: Duration = Duration::from_secs(15);
const MAX_REPLICAS: i64 = 3;
const TARGET_IN_FLIGHT: i32 = 2;
const TARGET_CPU_PERCENT: i32 = 60;

/// What one load step gave.
struct Step {
    signal: &'static str,
    /// From the load's start until each signal showed it.
    signals: SignalsSeen,
    /// From the load's start until the autoscaler raised spec.replicas.
    decided: Duration,
    /// From the load's start until a second replica was Ready.
    second_ready: Duration,
    /// From the load's end until spec.replicas was back at 1.
    scaled_in: Duration,
    most_replicas: i64,
    load: LoadReport,
}

#[tokio::test]
#[ignore = "needs a kind cluster with metrics-server and KEDA: e2e/kind/run.sh autoscaling"]
async fn a_load_step_scales_out_and_back_in_on_in_flight_and_on_cpu() {
    let Some(test) = KindTest::start("ws-autoscale").await else {
        return;
    };
    let release = chart::install(
        &test.cluster,
        &test.ns.name,
        &test.ns.name,
        &chart::values_for(Mode::Kind, &[]),
    )
    .await
    .expect("helm install");
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = speech::synthesize(dir.path()).await.expect("speech");
    let forward = PortForward::start(
        &test.cluster,
        &test.setup.prometheus_namespace,
        &test.setup.prometheus_service,
        9090,
    )
    .await
    .expect("a port-forward to Prometheus");
    let prometheus = PrometheusApi::new(&forward.base_url);

    // Each signal twice, first and last, so that neither gains from going first (a cold node,
    // images already in place) or last.
    let in_flight = ("InFlight", "ScalingOnInFlight");
    let cpu = ("Cpu", "ScalingOnCPU");
    let mut steps = Vec::new();
    for (i, (signal, reason)) in [in_flight, cpu, cpu, in_flight].into_iter().enumerate() {
        steps.push(load_step(&test, &prometheus, &wav, i + 1, signal, reason).await);
    }

    eprintln!(
        "| scaling on | in-flight signal above target after | CPU signal above target after | decided after | 2nd replica Ready after | most replicas | back to 1 after load stopped | load sent | failed | throttled (429) | median | worst |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let secs = |d: Option<Duration>| {
        d.map_or("not seen".to_string(), |d| {
            format!("{:.1} s", d.as_secs_f64())
        })
    };
    for s in &steps {
        eprintln!(
            "| {} | {} | {} | {:.0} s | {:.0} s | {} | {:.0} s | {} | {} | {} | {:.2} s | {:.2} s |",
            s.signal,
            secs(s.signals.in_flight),
            secs(s.signals.cpu),
            s.decided.as_secs_f64(),
            s.second_ready.as_secs_f64(),
            s.most_replicas,
            s.scaled_in.as_secs_f64(),
            s.load.sent,
            s.load.failures.len(),
            s.load.throttled,
            s.load.median.as_secs_f64(),
            s.load.worst.as_secs_f64(),
        );
    }
    for s in &steps {
        assert!(
            s.load.failures.is_empty(),
            "{}: requests failed while scaling: {:?}",
            s.signal,
            s.load.failures
        );
    }
    release
        .uninstall(&test.cluster)
        .await
        .expect("helm uninstall");
}

/// One WhisperService scaling on `signal`: Ready at one replica with the autoscaler reading
/// its metric, then the load step, the scale-out, the load's end and the scale-in.
async fn load_step(
    test: &KindTest,
    prometheus: &PrometheusApi,
    wav: &Path,
    step: usize,
    signal: &'static str,
    reason: &str,
) -> Step {
    let KindTest {
        cluster,
        setup,
        ns,
        model_url,
        ..
    } = test;
    let name = format!("step{step}-{}", signal.to_lowercase());
    let svc = WhisperServiceRef::new(cluster, &ns.name, &name);
    let mut manifest = setup.manifest(model_url, Some(&setup.model_sha256));
    manifest["spec"]["autoscaling"] = json!({
        "minReplicas": 1,
        "maxReplicas": MAX_REPLICAS,
        "signal": signal,
        "targetInFlightPerReplica": TARGET_IN_FLIGHT,
        "targetCpuUtilizationPercent": TARGET_CPU_PERCENT,
        "scaleDownStabilizationSeconds": 30,
        "prometheusAddress": format!(
            "http://{}.{}.svc:9090",
            setup.prometheus_service, setup.prometheus_namespace
        ),
    });
    svc.apply(&manifest).await.expect("apply");
    svc.wait_condition("Ready", "True", READY_TIMEOUT)
        .await
        .expect("Ready");
    svc.wait_condition("AutoscalingReady", "True", READY_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{signal}: AutoscalingReady: {e}"));
    let condition = svc.get().await.expect("get");
    let said = whisper_e2e::whisperservice::condition(&condition.data, "AutoscalingReady")
        .map(|c| c.reason)
        .unwrap_or_default();
    assert_eq!(said, reason, "{signal}: the autoscaler in place");
    autoscaler_reads_its_metric(cluster, &ns.name, &name).await;
    // KEDA reads a missing series as no load: wait until Prometheus scrapes the new service (its
    // ServiceMonitor is new), as it long has for a service that meets a load step in production.
    scraped(prometheus, &ns.name, &name).await;
    let url = node_port::expose(cluster, &ns.name, &name)
        .await
        .expect("NodePort");

    let load = Load::start(&url, wav, speech::TEXT, STEP_CONCURRENCY, Retry::Never).expect("load");
    let started = Instant::now();
    let (signals, (replicas, decided)) = tokio::join!(
        watch_signals(cluster, prometheus, &ns.name, &name, started),
        async {
            let replicas = wait_replicas(&svc, "above 1", |r| r > 1).await;
            (replicas, started.elapsed())
        }
    );
    let mut most_replicas = replicas;
    let second_ready = {
        rollout::ready_at_least(cluster, &ns.name, &name, 2, READY_TIMEOUT)
            .await
            .expect("a second ready replica");
        started.elapsed()
    };
    tokio::time::sleep(AFTER_SCALE_OUT).await;
    most_replicas = most_replicas.max(spec_replicas(&svc).await);
    let load = load.stop().await.expect("load");
    let stopped = Instant::now();
    wait_replicas(&svc, "back at 1", |r| r == 1).await;
    let scaled_in = stopped.elapsed();
    rollout::settled(cluster, &ns.name, &name, 1, READY_TIMEOUT)
        .await
        .expect("one replica after the scale-in");
    eprintln!(
        "{signal}: signals seen {signals:?}, decided {decided:?}, 2nd Ready {second_ready:?}, back to 1 {scaled_in:?}; load {}",
        load.summary()
    );

    // The next step gets the nodes' CPUs to itself.
    svc.delete().await.expect("delete");
    svc.wait_gone(READY_TIMEOUT).await.expect("gone");
    Step {
        signal,
        signals,
        decided,
        second_ready,
        scaled_in,
        most_replicas,
        load,
    }
}

/// Waits until the HPA that scales `name` (the operator's, or the one KEDA made) has a current
/// value of its metric: from then on a load step is seen as soon as the metric moves.
async fn autoscaler_reads_its_metric(cluster: &Cluster, namespace: &str, name: &str) {
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(cluster.client.clone(), namespace);
    wait::until(
        &format!("the HPA scaling {name} to read its metric"),
        READY_TIMEOUT,
        || async {
            let list = hpas.list(&ListParams::default()).await?;
            let current = list
                .items
                .iter()
                .filter(|h| {
                    h.spec
                        .as_ref()
                        .is_some_and(|s| s.scale_target_ref.name == name)
                })
                .find_map(|h| h.status.as_ref()?.current_metrics.clone())
                .unwrap_or_default();
            Ok(if current.is_empty() {
                Check::NotYet(format!("{} HPAs, no current metric", list.items.len()))
            } else {
                Check::Done(())
            })
        },
    )
    .await
    .expect("the autoscaler reads its metric");
}

/// Waits until Prometheus has a sample of the service's in-flight gauge.
async fn scraped(prometheus: &PrometheusApi, namespace: &str, name: &str) {
    let query =
        format!("whisper_inflight_requests{{namespace=\"{namespace}\",service=\"{name}\"}}");
    wait::until(
        &format!("Prometheus to scrape {name}"),
        READY_TIMEOUT,
        || async {
            let values = prometheus.query(&query).await?;
            Ok(if values.is_empty() {
                Check::NotYet(format!("{query}: no sample"))
            } else {
                Check::Done(())
            })
        },
    )
    .await
    .expect("Prometheus scrapes the service");
}

async fn spec_replicas(svc: &WhisperServiceRef) -> i64 {
    svc.get().await.expect("get").data["spec"]["replicas"]
        .as_i64()
        .unwrap_or(1)
}

/// Waits until spec.replicas (written by the autoscaler through the scale subresource)
/// satisfies `wanted`, and returns it.
async fn wait_replicas(svc: &WhisperServiceRef, what: &str, wanted: fn(i64) -> bool) -> i64 {
    wait::until(
        &format!("spec.replicas {what}"),
        REACTION_TIMEOUT,
        || async {
            let replicas = spec_replicas(svc).await;
            Ok(if wanted(replicas) {
                Check::Done(replicas)
            } else {
                Check::NotYet(format!("spec.replicas {replicas}"))
            })
        },
    )
    .await
    .unwrap_or_else(|e| panic!("spec.replicas {what}: {e}"))
}

/// When each signal first showed the load step, watched side by side on the same load: the
/// in-flight sum KEDA reads from Prometheus above its per-replica target, and the pod's CPU in
/// the resource metrics API above the CPU target. The HPA's own 15 s cycle comes on top of both.
#[derive(Clone, Copy, Debug, Default)]
struct SignalsSeen {
    in_flight: Option<Duration>,
    cpu: Option<Duration>,
}

async fn watch_signals(
    cluster: &Cluster,
    prometheus: &PrometheusApi,
    namespace: &str,
    name: &str,
    started: Instant,
) -> SignalsSeen {
    let query = in_flight_query(namespace, name);
    let metrics = format!(
        "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods?labelSelector=whisper-operator.io/service={name}"
    );
    let mut seen = SignalsSeen::default();
    while started.elapsed() < REACTION_TIMEOUT && (seen.in_flight.is_none() || seen.cpu.is_none()) {
        if seen.in_flight.is_none() {
            let in_flight = prometheus.query(&query).await.unwrap_or_default();
            if in_flight
                .first()
                .is_some_and(|v| *v > TARGET_IN_FLIGHT as f64)
            {
                seen.in_flight = Some(started.elapsed());
            }
        }
        if seen.cpu.is_none() {
            let answer = kubectl(cluster, &["get", "--raw", &metrics])
                .await
                .unwrap_or_default();
            if busiest_pod_cores(&answer) * 100.0 > f64::from(TARGET_CPU_PERCENT) {
                seen.cpu = Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    seen
}

/// The highest CPU use of one pod (cores) in a metrics.k8s.io PodMetricsList; each server pod
/// requests one CPU (one thread), so this is also its utilisation.
fn busiest_pod_cores(pod_metrics: &str) -> f64 {
    let list: serde_json::Value = serde_json::from_str(pod_metrics).unwrap_or_default();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pod| {
            pod["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["usage"]["cpu"].as_str().map(cores))
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// A CPU quantity as the metrics API writes it ("1148313n", "998m", "2") in cores.
fn cores(quantity: &str) -> f64 {
    let (number, scale) = match quantity.as_bytes().last() {
        Some(b'n') => (&quantity[..quantity.len() - 1], 1e-9),
        Some(b'u') => (&quantity[..quantity.len() - 1], 1e-6),
        Some(b'm') => (&quantity[..quantity.len() - 1], 1e-3),
        _ => (quantity, 1.0),
    };
    number.parse::<f64>().unwrap_or(0.0) * scale
}

#[test]
fn cpu_quantities_of_the_metrics_api_read_as_cores() {
    assert_eq!(cores("1500000000n"), 1.5);
    assert_eq!(cores("250m"), 0.25);
    assert_eq!(cores("2"), 2.0);
    let list = r#"{"items": [
        {"containers": [{"usage": {"cpu": "900m"}}]},
        {"containers": [{"usage": {"cpu": "100000000n"}}]}]}"#;
    assert_eq!(busiest_pod_cores(list), 0.9);
}
