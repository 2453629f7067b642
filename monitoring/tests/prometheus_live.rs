//! The real whisper-server (real model) and a real Prometheus on loopback, Prometheus configured
//! with this folder's prometheus.yml (targets rewritten, 1 s intervals) and alert_rules.yml. After
//! good transcriptions (flite speech) and bad ones (random bytes), every PromQL expression of the
//! dashboard, the alert rules and the useful queries is evaluated through Prometheus's HTTP API.
//!
//! Needs: the server binary (WHISPER_SERVER_BIN, else target/{release,debug}/whisper-server:
//! `cargo build -p whisper-server`), a ggml model (WHISPER_TEST_MODEL, else the cache paths below),
//! and the Debian packages prometheus, flite and sox. It fails, saying which, when one is missing.

mod live;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use live::{Prometheus, Server, api_get, poll, speech_wavs};
use whisper_monitoring::{
    CONTRACT, Expression, Origin, all_expressions, exported_series, is_exported, metric_names,
    series_in_exposition, substitute_variables,
};

/// Bad requests in the burst: enough for HighErrorRate's 0.1/s over 5m to trip at once.
const BAD_BURST: usize = 60;
const GOOD_REQUESTS: usize = 3;

#[tokio::test]
async fn every_shipped_query_returns_plausible_data_from_a_real_prometheus() {
    let workdir = tempfile::tempdir().expect("temp dir");
    let (speech, speech_44k_stereo) = speech_wavs(workdir.path());
    let server = Server::start(workdir.path());
    let prometheus = Prometheus::start(workdir.path(), &server.address);
    let http = reqwest::Client::new();

    // First scrape in.
    poll(
        "Prometheus to scrape whisper_model_loaded",
        Duration::from_secs(60),
        || instant(&http, &prometheus, "whisper_model_loaded"),
    )
    .await;

    // Phase 1: one bad and one good request, so every counter has a sample before the burst
    // (a series that first appears at its final value shows no increase).
    server.transcribe_noise(&http, 1).await;
    server.transcribe(&http, &speech_44k_stereo).await;
    poll("the first error and transcription to be scraped", Duration::from_secs(60), || {
        instant(
            &http,
            &prometheus,
            "sum(whisper_transcription_errors_total) >= 1 and on () sum(whisper_audio_seconds_total) > 0",
        )
    })
    .await;

    // Phase 2: the rest of the good requests and the burst of bad ones.
    for _ in 1..GOOD_REQUESTS {
        server.transcribe(&http, &speech).await;
    }
    server.transcribe_noise(&http, BAD_BURST).await;
    let all_scraped = format!(
        "sum(whisper_transcription_requests_total) >= {}",
        GOOD_REQUESTS + BAD_BURST + 1
    );
    poll(
        "every request to be scraped",
        Duration::from_secs(60),
        || instant(&http, &prometheus, &all_scraped),
    )
    .await;
    // Two more scrapes and rule evaluations so rates cover the burst and alerts see it.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let exposition = server.metrics(&http).await;
    check_exported_against_real_metrics(&exposition);
    check_target_is_up(&http, &prometheus).await;
    check_dashboard_variables(&http, &prometheus, &server.address).await;

    let mut failures = Vec::new();
    for expression in all_expressions().expect("assets parse") {
        let promql = substitute_variables(&expression.promql, &[("job", ".*"), ("instance", ".*")]);
        let values = match query(&http, &prometheus, &promql).await {
            Ok(values) => values,
            Err(e) => {
                failures.push(format!("{}: {e}\n    {promql}", expression.name));
                continue;
            }
        };
        eprintln!("{:<70} {:?}", expression.name, values);
        if let Err(e) = plausible(&expression, &values) {
            failures.push(format!(
                "{}: {e}\n    {promql}\n    got {values:?}",
                expression.name
            ));
        }
    }
    check_rules(&http, &prometheus, &mut failures).await;
    assert!(
        failures.is_empty(),
        "{} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// An instant query's sample values, or why it failed.
async fn query(
    http: &reqwest::Client,
    prometheus: &Prometheus,
    promql: &str,
) -> Result<Vec<f64>, String> {
    let body = api_get(http, &prometheus.url("/api/v1/query"), &[("query", promql)]).await?;
    let results = body["data"]["result"].as_array().ok_or("no result array")?;
    results
        .iter()
        .map(|r| {
            r["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| format!("unreadable sample {r}"))
        })
        .collect()
}

/// For `poll`: Some once the query returns at least one sample.
async fn instant(
    http: &reqwest::Client,
    prometheus: &Prometheus,
    promql: &str,
) -> Option<Vec<f64>> {
    query(http, prometheus, promql)
        .await
        .ok()
        .filter(|v| !v.is_empty())
}

/// What a healthy server that just served a few good and many bad requests must show.
fn plausible(expression: &Expression, values: &[f64]) -> Result<(), String> {
    let names = metric_names(&expression.promql);
    let reads = |m: &str| names.iter().any(|n| n == m);
    let expr = &expression.promql;

    if expression.origin == Origin::AlertRule {
        // Rules are judged by their state in check_rules; here the query just has to evaluate.
        return Ok(());
    }
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return Err("no finite sample".into());
    }
    if finite.iter().any(|v| *v < 0.0) {
        return Err("negative value".into());
    }
    let max = finite.iter().copied().fold(f64::MIN, f64::max);
    let all_within = |lo: f64, hi: f64| finite.iter().all(|v| *v > lo && *v <= hi);

    let ok = if expr.contains("histogram_quantile") {
        all_within(0.0, 60.0)
    } else if reads("whisper_audio_seconds_total") {
        all_within(0.0, 10.0) // real-time factor: some inference per second of audio, never 10x
    } else if reads("whisper_transcription_errors_total")
        && reads("whisper_transcription_requests_total")
    {
        all_within(0.0, 100.0) // error percentage: most requests were bad, none beyond all
    } else if expr.contains("_sum") && expr.contains("_count") {
        all_within(0.0, 60.0) // mean stage time
    } else if reads("whisper_model_loaded") {
        finite.iter().all(|v| *v == 1.0)
    } else if reads("whisper_build_info") {
        finite == [1.0] // one server, one version
    } else if reads("whisper_slots") {
        finite.iter().all(|v| *v >= 1.0)
    } else if reads("whisper_model_load_duration_seconds") {
        all_within(0.0, 600.0)
    } else if reads("whisper_queue_depth") || reads("whisper_inflight_requests") {
        true // idle now: 0 is right, any non-negative count is possible
    } else {
        max > 0.0 // request and error rates: traffic was sent
    };
    if ok {
        Ok(())
    } else {
        Err("implausible value".into())
    }
}

/// The static contract and the real /metrics page agree, and every series a query reads is there.
fn check_exported_against_real_metrics(exposition: &str) {
    let real = series_in_exposition(exposition);
    let contract = exported_series(CONTRACT);
    let missing: BTreeSet<_> = contract.difference(&real).collect();
    assert!(
        missing.is_empty(),
        "the server's /metrics lacks contract series {missing:?}"
    );
    for expression in all_expressions().expect("assets parse") {
        for name in metric_names(&expression.promql) {
            assert!(
                is_exported(&name, &real),
                "{} reads {name}, absent from the real /metrics page",
                expression.name
            );
        }
    }
}

async fn check_target_is_up(http: &reqwest::Client, prometheus: &Prometheus) {
    let body = api_get(http, &prometheus.url("/api/v1/targets"), &[])
        .await
        .expect("targets API");
    let targets = body["data"]["activeTargets"]
        .as_array()
        .expect("activeTargets");
    let health: BTreeMap<&str, &str> = targets
        .iter()
        .filter_map(|t| Some((t["scrapePool"].as_str()?, t["health"].as_str()?)))
        .collect();
    assert_eq!(health.get("whisper-api"), Some(&"up"), "targets: {body}");
    assert_eq!(health.get("prometheus"), Some(&"up"), "targets: {body}");
}

/// The dashboard's $job and $instance variables (label_values over whisper_build_info) list the
/// test's target.
async fn check_dashboard_variables(http: &reqwest::Client, prometheus: &Prometheus, address: &str) {
    let values = |label: &'static str| async move {
        let body = api_get(
            http,
            &prometheus.url(&format!("/api/v1/label/{label}/values")),
            &[("match[]", "whisper_build_info")],
        )
        .await
        .expect("label values API");
        body["data"].as_array().cloned().unwrap_or_default()
    };
    assert!(values("job").await.iter().any(|v| v == "whisper-api"));
    assert!(values("instance").await.iter().any(|v| v == address));
}

/// Every rule is healthy; the error burst trips HighErrorRate and nothing else.
async fn check_rules(http: &reqwest::Client, prometheus: &Prometheus, failures: &mut Vec<String>) {
    let body = api_get(http, &prometheus.url("/api/v1/rules"), &[])
        .await
        .expect("rules API");
    let rules: Vec<&serde_json::Value> = body["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .collect();
    let shipped =
        whisper_monitoring::alert_rules(whisper_monitoring::ALERT_RULES_YAML).expect("rules");
    for rule in shipped {
        let Some(loaded) = rules.iter().find(|r| r["name"] == rule.name.as_str()) else {
            failures.push(format!("alert {} not loaded by Prometheus", rule.name));
            continue;
        };
        if loaded["health"] != "ok" {
            failures.push(format!(
                "alert {} health {} ({})",
                rule.name, loaded["health"], loaded["lastError"]
            ));
        }
        let state = loaded["state"].as_str().unwrap_or_default();
        let expected_active = rule.name == "HighErrorRate";
        let active = matches!(state, "pending" | "firing");
        if active != expected_active {
            failures.push(format!(
                "alert {} is {state}, expected {}",
                rule.name,
                if expected_active {
                    "pending or firing"
                } else {
                    "inactive"
                }
            ));
        }
    }
}
