//! The rules of a Prometheus rule file (the `groups:` document, which is also a PrometheusRule's
//! spec).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    pub group: String,
    /// The `alert:` name, or the `record:` name of a recording rule.
    pub name: String,
    pub expr: String,
    pub for_duration: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RuleFile {
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    alert: Option<String>,
    record: Option<String>,
    expr: String,
    #[serde(rename = "for")]
    for_duration: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Every rule in `rules_yaml`, in file order.
pub fn alert_rules(rules_yaml: &str) -> Result<Vec<AlertRule>, Error> {
    let file: RuleFile = serde_yaml_ng::from_str(rules_yaml)?;
    Ok(file
        .groups
        .into_iter()
        .flat_map(|group| {
            let group_name = group.name;
            group.rules.into_iter().map(move |rule| AlertRule {
                group: group_name.clone(),
                name: rule.alert.or(rule.record).unwrap_or_default(),
                expr: rule.expr,
                for_duration: rule.for_duration,
                labels: rule.labels,
                annotations: rule.annotations,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_alerts_and_recording_rules() {
        let yaml = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 1m\n    labels: {severity: critical}\n    annotations: {summary: s}\n  - record: job:x:rate5m\n    expr: rate(x[5m])\n";
        let rules = alert_rules(yaml).expect("valid rules");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].name, "A");
        assert_eq!(rules[0].for_duration.as_deref(), Some("1m"));
        assert_eq!(rules[0].labels["severity"], "critical");
        assert_eq!(rules[1].name, "job:x:rate5m");
        assert_eq!(rules[1].group, "g");
    }

    #[test]
    fn a_rule_without_expr_is_an_error() {
        let yaml = "groups:\n- name: g\n  rules:\n  - alert: A\n";
        assert!(matches!(alert_rules(yaml), Err(Error::Yaml(_))));
    }
}
