//! The README tells the truth about this folder: its useful queries are the ones the live test
//! runs (queries.promql), and its alert table names every alert rule.

use whisper_monitoring::{ALERT_RULES_YAML, USEFUL_QUERIES_PROMQL, alert_rules, useful_queries};

const README: &str = include_str!("../README.md");

fn readme_promql_block() -> &'static str {
    let section = README
        .split("## Useful Prometheus queries")
        .nth(1)
        .expect("README has a Useful Prometheus queries section");
    let block = section
        .split("```promql\n")
        .nth(1)
        .expect("a promql code block");
    block.split("```").next().unwrap_or_default()
}

#[test]
fn readme_queries_are_the_tested_queries() {
    let readme: Vec<String> = useful_queries(readme_promql_block())
        .expect("README queries parse")
        .into_iter()
        .map(|q| q.expr)
        .collect();
    let tested: Vec<String> = useful_queries(USEFUL_QUERIES_PROMQL)
        .expect("queries.promql parses")
        .into_iter()
        .map(|q| q.expr)
        .collect();
    assert_eq!(
        readme, tested,
        "README.md and queries.promql list different queries"
    );
}

#[test]
fn readme_lists_every_alert() {
    for rule in alert_rules(ALERT_RULES_YAML).expect("alert rules parse") {
        assert!(
            README.contains(&format!("| `{}` |", rule.name)),
            "README lacks alert {}",
            rule.name
        );
    }
}
