//! Every metric any shipped expression reads is one the server exports (the contract list; the
//! live test checks the real /metrics page), and the server's source defines every contract name.

use std::path::PathBuf;

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
fn every_contract_metric_is_shown_somewhere() {
    let used: Vec<String> = all_expressions()
        .expect("assets parse")
        .iter()
        .flat_map(|e| metric_names(&e.promql))
        .collect();
    for series in exported_series(CONTRACT) {
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

#[test]
fn the_server_source_defines_every_contract_metric() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/src/metrics.rs");
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for metric in CONTRACT {
        assert!(
            source.contains(&format!("\"{}\"", metric.name)),
            "{} does not define {}",
            path.display(),
            metric.name
        );
    }
}
