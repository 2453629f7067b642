//! The user's path on a kind cluster, with real pods: the chart's operator pod, whisper-server
//! pods that download their model from a model server inside the cluster, transcriptions
//! through the Service from outside and from a pod, a Prometheus Operator's Prometheus that
//! scrapes the pods only because of the operator's ServiceMonitor, and clear failures for a
//! model that cannot be downloaded. `e2e/kind/run.sh` sets the cluster up and runs this.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::ListParams;
use serde_json::{Value, json};
use whisper_e2e::chart::{self, Release};
use whisper_e2e::cluster::{Cluster, Mode};
use whisper_e2e::in_cluster;
use whisper_e2e::kind_setup::{KindTest, Setup};
use whisper_e2e::prometheus::PrometheusApi;
use whisper_e2e::transcribe::{PortForward, metric_sum};
use whisper_e2e::wait::{self, Check};
use whisper_e2e::whisperservice::{self as ws, WhisperServiceRef, condition};
use whisper_e2e::{E2eError, paths, rollout, speech, tool};

/// What tiny.en hears in the flite sentence, exactly.
const TRANSCRIPT: &str = "Hello world, the quick brown fox jumps over the lazy dog.";
const READY_TIMEOUT: Duration = Duration::from_secs(300);

#[tokio::test]
#[ignore = "needs a kind cluster: e2e/kind/run.sh"]
async fn real_pods_download_serve_are_scraped_and_explain_failures() {
    let Some(KindTest {
        cluster,
        setup,
        ns,
        model_url,
        ..
    }) = KindTest::start("ws-kind").await
    else {
        return;
    };

    // 1. helm install, with the catalogue's tiny.en pointed at the in-cluster mirror.
    let mut values = chart::values_for(Mode::Kind, &[]);
    values["operator"]["modelCatalogue"] =
        json!({"tiny.en": {"url": model_url, "sha256": setup.model_sha256}});
    let release = chart::install(&cluster, &ns.name, &ns.name, &values)
        .await
        .expect("helm install");
    operator_pod_is_ready_and_leads(&cluster, &ns.name, &release)
        .await
        .expect("operator pod");

    let dir = tempfile::tempdir().expect("temp dir");
    let wav = speech::synthesize(dir.path()).await.expect("speech");

    // 2-6. A model URL with its checksum: download, readiness, transcriptions, monitoring.
    let svc = WhisperServiceRef::new(&cluster, &ns.name, "url-tiny");
    svc.apply(&setup.manifest(&model_url, Some(&setup.model_sha256)))
        .await
        .expect("apply");
    let reasons = ready_with_reasons(&svc).await.expect("url-tiny Ready");
    eprintln!("Ready reasons on the way: {reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r == "ModelDownloading" || r == "ModelLoading"),
        "the status never said the model was being fetched or loaded: {reasons:?}"
    );
    kubectl_get_ws_shows_ready(&cluster, &ns.name, "url-tiny")
        .await
        .expect("kubectl get ws");
    transcribe_from_outside(&cluster, &ns.name, "url-tiny", &wav)
        .await
        .expect("through a port-forward");
    transcribe_from_a_pod(&cluster, &ns.name, "url-tiny", &wav)
        .await
        .expect("from a pod");
    prometheus_scrapes_and_evaluates(&cluster, &setup, &ns.name, "url-tiny")
        .await
        .expect("Prometheus");
    dashboard_config_map_is_the_file(&cluster, &svc)
        .await
        .expect("dashboard");
    pods_run_in_restricted_namespaces(&cluster, &[&ns.name, &setup.prometheus_namespace])
        .await
        .expect("restricted");

    // 9 (first half). Deleting the WhisperService removes its children.
    ws::delete_and_wait_for_children(&cluster, &svc)
        .await
        .expect("delete");

    // 8. A model that cannot be downloaded, then one whose checksum is wrong (one at a time:
    // each pod requests a CPU, and the kind nodes share two cores).
    let missing_url = model_url.replace(&setup.file_name(), "no-such-model.bin");
    let cases = [
        (
            "missing-model",
            missing_url.as_str(),
            setup.model_sha256.clone(),
            "HTTP 404",
        ),
        (
            "wrong-sha",
            model_url.as_str(),
            "0".repeat(64),
            "SHA-256 mismatch",
        ),
    ];
    for (name, url, sha, cause) in cases {
        let bad = WhisperServiceRef::new(&cluster, &ns.name, name);
        bad.apply(&setup.manifest(url, Some(&sha)))
            .await
            .expect("apply");
        let message = degraded_because_download_failed(&cluster, &bad)
            .await
            .expect("the failure is explained");
        assert!(message.contains(cause), "{name}: {message}");
        ws::delete_and_wait_for_children(&cluster, &bad)
            .await
            .expect("delete");
    }

    // 2 (second half). The shipped sample, by catalogue name, through the mirror override.
    let sample = WhisperServiceRef::new(&cluster, &ns.name, "sample-tiny");
    let mut shipped = ws::load_sample("whisperservice-cpu-tiny.yaml").expect("sample");
    // The sample asks for 2 CPUs; the kind nodes share two cores, so one thread here.
    shipped["spec"]["server"]["threads"] = json!(1);
    sample.apply(&shipped).await.expect("apply sample");
    sample
        .wait_condition("Ready", "True", READY_TIMEOUT)
        .await
        .expect("sample Ready");
    transcribe_from_outside(&cluster, &ns.name, "sample-tiny", &wav)
        .await
        .expect("sample transcribes");
    ws::delete_and_wait_for_children(&cluster, &sample)
        .await
        .expect("delete");

    // 9 (second half). helm uninstall removes the operator.
    release.uninstall(&cluster).await.expect("helm uninstall");
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    let left = deployments
        .list(&ListParams::default().labels("app.kubernetes.io/name=whisper-operator"))
        .await
        .expect("list");
    assert!(
        left.items.is_empty(),
        "operator Deployment left after uninstall"
    );
}

async fn operator_pod_is_ready_and_leads(
    cluster: &Cluster,
    namespace: &str,
    release: &Release,
) -> Result<(), E2eError> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let list = pods
        .list(&ListParams::default().labels("app.kubernetes.io/name=whisper-operator"))
        .await?;
    let ready: Vec<String> = list
        .items
        .iter()
        .filter(|p| rollout::is_ready(p))
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    if ready.is_empty() {
        return Err(E2eError::Unexpected(format!(
            "no Ready operator pod among {}",
            list.items.len()
        )));
    }
    // Leader election is on: the Lease names one of the pods.
    let leases: Api<Lease> = Api::namespaced(cluster.client.clone(), namespace);
    let lease_name = release.fullname();
    wait::until(
        "the operator to hold its Lease",
        Duration::from_secs(60),
        || async {
            let holder = leases
                .get_opt(&lease_name)
                .await?
                .and_then(|l| l.spec?.holder_identity)
                .unwrap_or_default();
            Ok(if ready.contains(&holder) {
                Check::Done(())
            } else {
                Check::NotYet(format!("holder {holder:?}, pods {ready:?}"))
            })
        },
    )
    .await
}

/// Waits for Ready=True and returns every Ready reason seen before it, in order.
async fn ready_with_reasons(svc: &WhisperServiceRef) -> Result<Vec<String>, E2eError> {
    let mut seen: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        let obj = svc.get().await?;
        if let Some(c) = condition(&obj.data, "Ready") {
            if c.status == "True" && ws::observed_current(&obj) {
                return Ok(seen);
            }
            assert!(
                !c.message.is_empty(),
                "Ready {} without a message",
                c.reason
            );
            if seen.last() != Some(&c.reason) {
                seen.push(c.reason.clone());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(E2eError::Unexpected(format!(
                "not Ready after {READY_TIMEOUT:?}; reasons seen {seen:?}; status {}",
                obj.data["status"]
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn kubectl_get_ws_shows_ready(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
) -> Result<(), E2eError> {
    let out = tool::run(
        &paths::tool("kubectl"),
        &cluster.kubeconfig,
        ["get", "ws", name, "-n", namespace, "-o", "wide"],
    )
    .await?;
    eprintln!("{out}");
    let endpoint = format!("http://{name}.{namespace}.svc:8000/v1");
    if out.contains("AllReplicasReady") && out.contains(&endpoint) {
        Ok(())
    } else {
        Err(E2eError::Unexpected(format!(
            "kubectl get ws shows no AllReplicasReady with {endpoint}:\n{out}"
        )))
    }
}

async fn transcribe_from_outside(
    cluster: &Cluster,
    namespace: &str,
    service: &str,
    wav: &Path,
) -> Result<(), E2eError> {
    let forward = PortForward::start(cluster, namespace, service, 8000).await?;
    let json = forward.transcription(wav, "json").await?;
    assert_eq!(json["text"], TRANSCRIPT, "json: {json}");
    let verbose = forward.transcription(wav, "verbose_json").await?;
    assert_eq!(verbose["text"], TRANSCRIPT, "verbose_json: {verbose}");
    assert!(
        verbose["segments"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "verbose_json has no segments: {verbose}"
    );
    // The image carries the VAD model: only the speech is decoded when a request asks.
    let speech_only = forward
        .transcription_with(
            wav,
            &[
                ("response_format", "verbose_json"),
                ("chunking_strategy", "auto"),
            ],
        )
        .await?;
    assert_eq!(
        speech_only["text"], TRANSCRIPT,
        "chunking_strategy=auto: {speech_only}"
    );
    let metrics = forward.metrics().await?;
    assert!(metric_sum(&metrics, "whisper_transcription_requests_total") >= 3.0);
    assert!(
        metric_sum(&metrics, "whisper_vad_duration_seconds_count") >= 1.0,
        "the chunking_strategy request ran the VAD"
    );
    assert_eq!(metric_sum(&metrics, "whisper_model_loaded"), 1.0);
    Ok(())
}

async fn transcribe_from_a_pod(
    cluster: &Cluster,
    namespace: &str,
    service: &str,
    wav: &Path,
) -> Result<(), E2eError> {
    let audio = std::fs::read(wav).map_err(|source| E2eError::Io {
        what: "reading the speech".into(),
        source,
    })?;
    let host = format!("{service}.{namespace}.svc");
    let boundary = "whisper-e2e-boundary";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    for format in ["json", "verbose_json"] {
        let body = in_cluster::multipart_body(
            boundary,
            &audio,
            &[("model", "whisper-1"), ("response_format", format)],
        );
        let name = format!("client-{}", format.replace('_', "-"));
        let target = (host.as_str(), 8000, "/v1/audio/transcriptions");
        let (status, answer) =
            in_cluster::post_from_pod(cluster, namespace, &name, target, &content_type, body)
                .await?;
        assert_eq!(status, 200, "{format} from a pod: {answer}");
        let parsed: Value = serde_json::from_str(&answer).map_err(|source| E2eError::Json {
            what: format!("the {format} answer {answer:?}"),
            source,
        })?;
        assert_eq!(parsed["text"], TRANSCRIPT, "{format} from a pod: {parsed}");
    }
    Ok(())
}

async fn prometheus_scrapes_and_evaluates(
    cluster: &Cluster,
    setup: &Setup,
    namespace: &str,
    service: &str,
) -> Result<(), E2eError> {
    let forward = PortForward::start(
        cluster,
        &setup.prometheus_namespace,
        &setup.prometheus_service,
        9090,
    )
    .await?;
    let prom = PrometheusApi::new(&forward.base_url);
    let requests = format!(
        "sum(whisper_transcription_requests_total{{namespace=\"{namespace}\",service=\"{service}\"}})"
    );
    let scraped = wait::until(
        "Prometheus to scrape the server through the ServiceMonitor",
        Duration::from_secs(180),
        || async {
            let values = prom.query(&requests).await?;
            Ok(match values.first() {
                Some(v) if *v > 0.0 => Check::Done(*v),
                _ => Check::NotYet(format!("{requests} = {values:?}")),
            })
        },
    )
    .await?;
    eprintln!("{requests} = {scraped}");
    let targets = prom.active_targets().await?;
    let ours: Vec<&Value> = targets
        .iter()
        .filter(|t| t["labels"]["namespace"] == namespace && t["labels"]["service"] == service)
        .collect();
    assert!(
        ours.iter()
            .any(|t| t["health"] == "up" && t["scrapeInterval"] == "5s"),
        "no healthy 5 s target for {service}: {ours:?}"
    );

    let mut failures = Vec::new();
    for e in whisper_monitoring::all_expressions().expect("the embedded assets parse") {
        let promql = whisper_monitoring::substitute_variables(
            &e.promql,
            &[("job", ".*"), ("instance", ".*")],
        );
        if let Err(err) = prom.query(&promql).await {
            failures.push(format!("{}: {err}", e.name));
        }
    }
    assert!(
        failures.is_empty(),
        "expressions that do not evaluate:\n{}",
        failures.join("\n")
    );

    let alerts: BTreeSet<String> =
        whisper_monitoring::alert_rules(whisper_monitoring::ALERT_RULES_YAML)
            .expect("alert rules parse")
            .into_iter()
            .map(|r| r.name)
            .collect();
    wait::until(
        "Prometheus to load the PrometheusRule's alerts",
        Duration::from_secs(180),
        || async {
            let loaded: BTreeSet<String> = prom
                .rule_groups()
                .await?
                .iter()
                .filter(|g| g["file"].as_str().is_some_and(|f| f.contains(namespace)))
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .filter(|r| r["type"] == "alerting")
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect();
            Ok(if alerts.is_subset(&loaded) {
                Check::Done(())
            } else {
                Check::NotYet(format!("loaded {loaded:?}, want {alerts:?}"))
            })
        },
    )
    .await
}

async fn dashboard_config_map_is_the_file(
    cluster: &Cluster,
    svc: &WhisperServiceRef,
) -> Result<(), E2eError> {
    let maps = svc
        .owned(cluster, &ws::config_maps(), &svc.namespace)
        .await?;
    let dashboard = maps
        .iter()
        .find(|cm| {
            cm.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("grafana_dashboard"))
                == Some(&"1".to_string())
        })
        .ok_or_else(|| E2eError::Unexpected("no ConfigMap with grafana_dashboard=1".into()))?;
    let files = dashboard.data["data"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let equal = files
        .values()
        .any(|v| v.as_str() == Some(whisper_monitoring::DASHBOARD_JSON));
    if equal {
        Ok(())
    } else {
        Err(E2eError::Unexpected(format!(
            "the dashboard ConfigMap's data differs from the dashboard file (keys {:?})",
            files.keys().collect::<Vec<_>>()
        )))
    }
}

async fn pods_run_in_restricted_namespaces(
    cluster: &Cluster,
    namespaces: &[&str],
) -> Result<(), E2eError> {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    for name in namespaces {
        let ns = api.get(name).await?;
        let enforce = ns
            .metadata
            .labels
            .and_then(|l| l.get("pod-security.kubernetes.io/enforce").cloned());
        if enforce.as_deref() != Some("restricted") {
            return Err(E2eError::Unexpected(format!(
                "namespace {name} enforces {enforce:?}, not restricted"
            )));
        }
        let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), name);
        if pods.list(&ListParams::default()).await?.items.is_empty() {
            return Err(E2eError::Unexpected(format!("no pods in {name}")));
        }
    }
    Ok(())
}

/// Waits until Degraded=True with reason ModelDownloadFailed and the server pod is not Ready;
/// returns the condition's message.
async fn degraded_because_download_failed(
    cluster: &Cluster,
    svc: &WhisperServiceRef,
) -> Result<String, E2eError> {
    let message = wait::until(
        &format!("{} to report ModelDownloadFailed", svc.name),
        READY_TIMEOUT,
        || async {
            let obj = svc.get().await?;
            Ok(match condition(&obj.data, "Degraded") {
                Some(c) if c.status == "True" && c.reason == "ModelDownloadFailed" => {
                    let ready = condition(&obj.data, "Ready");
                    assert_eq!(
                        ready.as_ref().map(|r| r.reason.as_str()),
                        Some("ModelDownloadFailed"),
                        "Ready: {ready:?}"
                    );
                    Check::Done(c.message)
                }
                other => Check::NotYet(format!("Degraded: {other:?}")),
            })
        },
    )
    .await?;
    eprintln!("{}: {message}", svc.name);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &svc.namespace);
    let selector = format!("app.kubernetes.io/instance={}", svc.name);
    for pod in pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
    {
        let ready = pod
            .status
            .and_then(|s| s.conditions)
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        assert!(!ready, "a pod of {} is Ready without its model", svc.name);
    }
    Ok(message)
}
