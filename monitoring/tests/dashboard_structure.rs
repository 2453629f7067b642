//! The dashboard's structure, as Grafana needs it and as the seed promises it: unique panel ids,
//! non-overlapping grid positions, every query on the `${datasource}` variable, the variables that
//! let one dashboard serve one server or many, the refresh and time range, and the seed's panels.

use std::collections::BTreeSet;

use serde_json::Value;
use whisper_monitoring::DASHBOARD_JSON;

fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD_JSON).expect("dashboard is valid JSON")
}

/// Panels at any depth (a row's collapsed panels included).
fn panels(value: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in value["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        out.extend(panels(panel));
    }
    out
}

fn panel<'a>(dashboard: &'a Value, title: &str) -> &'a Value {
    panels(dashboard)
        .into_iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no panel titled {title:?}"))
}

fn exprs(panel: &Value) -> Vec<&str> {
    panel["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["expr"].as_str())
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: u64,
    y: u64,
    w: u64,
    h: u64,
}

impl Rect {
    fn of(panel: &Value) -> Rect {
        let field = |k: &str| {
            panel["gridPos"][k]
                .as_u64()
                .unwrap_or_else(|| panic!("panel {} gridPos.{k} missing", panel["title"]))
        };
        Rect {
            x: field("x"),
            y: field("y"),
            w: field("w"),
            h: field("h"),
        }
    }

    fn overlaps(self, other: Rect) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }
}

#[test]
fn panel_ids_are_unique() {
    let d = dashboard();
    let ids: Vec<u64> = panels(&d)
        .iter()
        .map(|p| {
            p["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("panel {} has no id", p["title"]))
        })
        .collect();
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate panel ids in {ids:?}");
}

#[test]
fn grid_positions_fit_24_columns_and_do_not_overlap() {
    let d = dashboard();
    let placed: Vec<(&Value, Rect)> = d["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .map(|p| (p, Rect::of(p)))
        .collect();
    for (panel, rect) in &placed {
        assert!(
            rect.w > 0 && rect.h > 0,
            "panel {} is empty",
            panel["title"]
        );
        assert!(
            rect.x + rect.w <= 24,
            "panel {} overflows the 24-column grid",
            panel["title"]
        );
    }
    for (i, (a, ra)) in placed.iter().enumerate() {
        for (b, rb) in &placed[i + 1..] {
            assert!(
                !ra.overlaps(*rb),
                "panels {} and {} overlap",
                a["title"],
                b["title"]
            );
        }
    }
}

#[test]
fn the_overlap_check_sees_overlaps() {
    let a = Rect {
        x: 0,
        y: 0,
        w: 12,
        h: 8,
    };
    assert!(a.overlaps(Rect {
        x: 11,
        y: 7,
        w: 2,
        h: 2
    }));
    assert!(!a.overlaps(Rect {
        x: 12,
        y: 0,
        w: 12,
        h: 8
    }));
    assert!(!a.overlaps(Rect {
        x: 0,
        y: 8,
        w: 12,
        h: 8
    }));
}

#[test]
fn every_panel_and_target_queries_the_datasource_variable() {
    let d = dashboard();
    let expected = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
    for panel in panels(&d) {
        assert_eq!(
            panel["datasource"], expected,
            "panel {} datasource",
            panel["title"]
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(
            !targets.is_empty(),
            "panel {} has no targets",
            panel["title"]
        );
        let ref_ids: BTreeSet<&str> = targets.iter().filter_map(|t| t["refId"].as_str()).collect();
        assert_eq!(
            ref_ids.len(),
            targets.len(),
            "panel {} refIds missing or repeated",
            panel["title"]
        );
        for target in targets {
            assert_eq!(
                target["datasource"], expected,
                "panel {} target datasource",
                panel["title"]
            );
        }
    }
}

#[test]
fn every_query_honours_the_service_and_instance_variables() {
    let d = dashboard();
    for panel in panels(&d) {
        for expr in exprs(panel) {
            let selectors = expr.matches('{').count();
            assert_eq!(
                expr.matches(r#"job=~"$job", instance=~"$instance""#)
                    .count(),
                selectors,
                "panel {}: every selector must filter by $job and $instance: {expr}",
                panel["title"]
            );
            assert!(
                selectors > 0,
                "panel {}: no selector in {expr}",
                panel["title"]
            );
        }
    }
}

#[test]
fn templating_has_datasource_service_and_instance_variables() {
    let d = dashboard();
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    let datasource = var("datasource");
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
    for name in ["job", "instance"] {
        let v = var(name);
        assert_eq!(v["type"], "query", "${name}");
        assert_eq!(v["datasource"]["uid"], "${datasource}", "${name}");
        assert_eq!(v["includeAll"], true, "${name} must offer All");
        assert_eq!(v["multi"], true, "${name} must allow several");
        assert_eq!(v["allValue"], ".*", "${name} All must match every value");
        let query = v["query"].as_str().expect("query");
        assert!(
            query.starts_with("label_values(whisper_"),
            "${name}: {query}"
        );
    }
    assert!(
        var("instance")["query"]
            .as_str()
            .is_some_and(|q| q.contains("$job"))
    );
}

#[test]
fn refreshes_every_5s_over_the_last_15_minutes() {
    let d = dashboard();
    assert_eq!(d["refresh"], "5s");
    assert_eq!(d["time"]["from"], "now-15m");
    assert_eq!(d["time"]["to"], "now");
    assert!(
        d["uid"]
            .as_str()
            .is_some_and(|uid| !uid.is_empty() && uid.len() <= 40)
    );
}

#[test]
fn has_the_seed_panels() {
    let d = dashboard();
    let duration = panel(&d, "Transcription duration (p95, p50)");
    assert_eq!(duration["type"], "timeseries");
    let duration_exprs = exprs(duration).join("\n");
    for quantile in ["histogram_quantile(0.95,", "histogram_quantile(0.50,"] {
        assert!(duration_exprs.contains(quantile), "missing {quantile}");
    }
    assert!(duration_exprs.contains("whisper_transcription_duration_seconds_bucket"));
    assert!(duration_exprs.contains("[5m]"));

    let rate = panel(&d, "Request rate");
    assert_eq!(rate["type"], "stat");
    assert!(exprs(rate)[0].contains("rate(whisper_transcription_requests_total"));
    let steps = rate["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .expect("steps");
    assert!(steps.len() >= 3, "request rate needs colour thresholds");
    assert_eq!(
        rate["fieldConfig"]["defaults"]["color"]["mode"],
        "thresholds"
    );

    let breakdown = exprs(panel(&d, "Performance breakdown (mean per stage)")).join("\n");
    for stage in ["audio_load", "processing", "inference", "decode"] {
        assert!(
            breakdown.contains(&format!("whisper_{stage}_duration_seconds")),
            "missing {stage}"
        );
    }
}

#[test]
fn has_errors_queue_real_time_factor_and_model_panels() {
    let d = dashboard();
    let errors = exprs(panel(&d, "Errors by reason")).join("\n");
    assert!(errors.contains("sum by (reason)"));
    let queue = exprs(panel(&d, "Queue depth and in-flight")).join("\n");
    assert!(queue.contains("whisper_queue_depth") && queue.contains("whisper_inflight_requests"));
    let rtf = exprs(panel(&d, "Real-time factor")).join("\n");
    assert!(
        rtf.contains("whisper_inference_duration_seconds_sum")
            && rtf.contains("whisper_audio_seconds_total")
    );
    assert!(exprs(panel(&d, "Model loaded"))[0].contains("whisper_model_loaded"));
}
