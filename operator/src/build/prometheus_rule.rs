//! The PrometheusRule: the project's alert rule file (monitoring/alert_rules.yml), with each
//! expression scoped to this service's series so that N services do not raise N copies of
//! every alert.

use serde_json::{Value, json};
use whisper_crds::AlertsSpec;

use super::Owner;
use crate::{
    error::{Error, Result},
    labels,
};

/// The PrometheusRule object (monitoring.coreos.com/v1), as JSON for a dynamic apply.
pub fn prometheus_rule(owner: &Owner, alerts: &AlertsSpec, rules_yaml: &str) -> Result<Value> {
    let mut file: Value = serde_yaml::from_str(rules_yaml).map_err(Error::AlertRules)?;
    let matchers = format!(
        "namespace=\"{}\",service=\"{}\"",
        owner.namespace, owner.name
    );
    let groups = file
        .get_mut("groups")
        .and_then(Value::as_array_mut)
        .ok_or(Error::MissingField("groups in the alert rule file"))?;
    for rule in groups
        .iter_mut()
        .filter_map(|g| g.get_mut("rules").and_then(Value::as_array_mut))
        .flatten()
    {
        if let Some(expr) = rule.get("expr").and_then(Value::as_str) {
            rule["expr"] = Value::String(scope_expression(expr, &matchers));
        }
    }
    let mut meta_labels = alerts.labels.clone();
    meta_labels.extend(labels::common_labels(&owner.name));
    Ok(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": owner.name,
            "namespace": owner.namespace,
            "labels": meta_labels,
            "ownerReferences": [owner.owner_ref],
        },
        "spec": { "groups": groups },
    }))
}

/// Adds `matchers` to every selector of a `whisper_*` metric in a PromQL expression. Only
/// metric names start with `whisper_` in these rules (labels and functions never do), and
/// string literals are skipped, so a token scan is enough.
pub fn scope_expression(expr: &str, matchers: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + 64);
    let mut i = 0;
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            // Copy a string literal verbatim, escapes included.
            out.push(c);
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    out.push(chars[i]);
                    i += 1;
                }
                out.push(chars[i]);
                i += 1;
            }
            if i < chars.len() {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        }
        if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let token: String = chars[start..i].iter().collect();
            let preceded_by_ident = start > 0 && is_ident(chars[start - 1]);
            out.push_str(&token);
            if token.starts_with("whisper_") && !preceded_by_ident {
                if chars.get(i) == Some(&'{') {
                    out.push('{');
                    out.push_str(matchers);
                    i += 1;
                    if chars.get(i) != Some(&'}') {
                        out.push(',');
                    }
                } else {
                    out.push('{');
                    out.push_str(matchers);
                    out.push('}');
                }
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service as ws;

    const M: &str = "namespace=\"ns\",service=\"a\"";

    #[test]
    fn bare_selector_and_range_get_the_matchers() {
        assert_eq!(
            scope_expression("rate(whisper_x_total[5m]) > 0", M),
            "rate(whisper_x_total{namespace=\"ns\",service=\"a\"}[5m]) > 0"
        );
    }

    #[test]
    fn existing_matchers_are_kept_after_ours() {
        assert_eq!(
            scope_expression("whisper_e_total{reason=\"queue_full\"}", M),
            "whisper_e_total{namespace=\"ns\",service=\"a\",reason=\"queue_full\"}"
        );
        assert_eq!(
            scope_expression("whisper_up{}", M),
            "whisper_up{namespace=\"ns\",service=\"a\"}"
        );
    }

    #[test]
    fn labels_functions_and_strings_are_left_alone() {
        let expr = "sum without (endpoint) (label_replace(up, \"x\", \"whisper_y\", \"\", \"\"))";
        assert_eq!(scope_expression(expr, M), expr);
    }

    #[test]
    fn the_project_rule_file_becomes_a_scoped_prometheus_rule() {
        let w = ws(
            "a",
            "ns",
            "model: tiny.en\nmonitoring: {alerts: {labels: {role: alerts}}}",
        );
        let pr = prometheus_rule(
            &Owner::of(&w).expect("owner"),
            &w.spec.monitoring.alerts,
            whisper_monitoring::ALERT_RULES_YAML,
        )
        .expect("rule file parses");
        assert_eq!(pr["metadata"]["labels"]["role"], "alerts");
        let rules: Vec<&Value> = pr["spec"]["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .flat_map(|g| g["rules"].as_array().expect("rules"))
            .collect();
        assert!(rules.iter().any(|r| r["alert"] == "HighErrorRate"));
        for r in rules {
            let expr = r["expr"].as_str().expect("expr");
            assert!(expr.contains(M), "unscoped: {expr}");
        }
    }

    /// The scoped expressions must still be valid PromQL: promtool (Debian `prometheus`, from
    /// scripts/install-deps.sh) checks the PrometheusRule's spec as a rule file.
    #[test]
    fn scoped_rules_pass_promtool() {
        let w = ws("a", "ns", "model: tiny.en");
        let pr = prometheus_rule(
            &Owner::of(&w).expect("owner"),
            &w.spec.monitoring.alerts,
            whisper_monitoring::ALERT_RULES_YAML,
        )
        .expect("rule file parses");
        let path =
            std::env::temp_dir().join(format!("whisper-scoped-rules-{}.yml", std::process::id()));
        std::fs::write(&path, serde_yaml::to_string(&pr["spec"]).expect("yaml"))
            .expect("write rules");
        let out = std::process::Command::new("promtool")
            .args(["check", "rules"])
            .arg(&path)
            .output()
            .expect("promtool not found: run scripts/install-deps.sh (Debian package prometheus)");
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_rule_file_without_groups_is_an_error() {
        let w = ws("a", "ns", "model: tiny.en");
        let err = prometheus_rule(
            &Owner::of(&w).expect("owner"),
            &w.spec.monitoring.alerts,
            "x: 1",
        )
        .expect_err("no groups");
        assert_eq!(err.category(), "internal");
    }
}
