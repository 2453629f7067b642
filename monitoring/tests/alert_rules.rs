//! The alert rules say what they must: the seed's HighErrorRate as written there, the alerts an
//! operator of this service needs, and annotations that tell the reader what to do.

use whisper_monitoring::{ALERT_RULES_YAML, AlertRule, alert_rules};

fn rules() -> Vec<AlertRule> {
    alert_rules(ALERT_RULES_YAML).expect("alert rules parse")
}

fn rule(name: &str) -> AlertRule {
    rules()
        .into_iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no alert {name}"))
}

#[test]
fn high_error_rate_is_the_seeds_alert() {
    let r = rule("HighErrorRate");
    assert_eq!(r.group, "whisper_alerts");
    assert!(
        r.expr
            .contains("rate(whisper_transcription_errors_total[5m])) > 0.1"),
        "{}",
        r.expr
    );
    assert_eq!(r.for_duration.as_deref(), Some("2m"));
    assert_eq!(r.labels["severity"], "warning");
    assert_eq!(r.annotations["summary"], "High error rate in Whisper API");
}

#[test]
fn covers_latency_model_queue_rejections_and_target_down() {
    let names: Vec<String> = rules().into_iter().map(|r| r.name).collect();
    for expected in [
        "WhisperHighLatencyP95",
        "WhisperModelNotLoaded",
        "WhisperQueueSaturated",
        "WhisperRequestsRejected",
        "WhisperTargetDown",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing alert {expected} in {names:?}"
        );
    }
    assert!(
        rule("WhisperHighLatencyP95")
            .expr
            .contains("histogram_quantile(0.95")
    );
    assert!(
        rule("WhisperRequestsRejected")
            .expr
            .contains(r#"reason="queue_full""#)
    );
}

#[test]
fn every_alert_has_severity_duration_and_actionable_annotations() {
    for r in rules() {
        assert!(
            matches!(
                r.labels.get("severity").map(String::as_str),
                Some("warning" | "critical")
            ),
            "{}: severity must be warning or critical",
            r.name
        );
        assert!(
            r.for_duration.is_some(),
            "{}: needs a `for` so one bad scrape does not page",
            r.name
        );
        let summary = r
            .annotations
            .get("summary")
            .map(String::as_str)
            .unwrap_or_default();
        let description = r
            .annotations
            .get("description")
            .map(String::as_str)
            .unwrap_or_default();
        assert!(!summary.is_empty(), "{}: no summary", r.name);
        assert!(
            description.len() > 80,
            "{}: description too thin to act on",
            r.name
        );
        assert!(
            description.contains("{{ $labels.instance }}"),
            "{}: description must name the instance",
            r.name
        );
    }
}
