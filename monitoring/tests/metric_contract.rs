//! Every metric any shipped expression reads is one the server exports (the contract list; the
//! live test checks the real /metrics page), and every watched metric is read by one. The server
//! registers its metrics under the contract's names, and its own test checks its /metrics page
//! against the whole list (`metrics::renders_every_contract_metric` in whisper-server).

use whisper_monitoring::{CONTRACT, all_expressions, exported_series, is_exported, metric_names};

#[test]
fn every_expression_reads_only_exported_metrics() {
    let exported = exported_series(CONTRACT);
    let expressions = all_expressions().expect("assets parse");
    assert!(
        expressions.len() >= 20,
        "expected dashboard, rules and queries, got {}",
        expressions.len()
    );
    for expr in &expressions {
        let names = metric_names(&expr.promql);
        assert!(
            !names.is_empty(),
            "{} reads no metric: {}",
            expr.name,
            expr.promql
        );
        for name in names {
            assert!(
                is_exported(&name, &exported),
                "{} reads {name}, which the server does not export",
                expr.name
            );
        }
    }
}

#[test]
fn every_watched_metric_is_shown_somewhere() {
    let used: Vec<String> = all_expressions()
        .expect("assets parse")
        .iter()
        .flat_map(|e| metric_names(&e.promql))
        .collect();
    let watched: Vec<_> = CONTRACT.iter().filter(|m| m.watched).copied().collect();
    for series in exported_series(&watched) {
        let family = series
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            used.iter().any(|u| u.starts_with(family)),
            "no dashboard panel, alert or query reads {family}"
        );
    }
}
