//! Pointing this folder's prometheus.yml at loopback processes, for tests that run the real
//! Prometheus against the real server with the shipped configuration.

use serde_yaml_ng::{Mapping, Value};

use crate::Error;

/// The scrape job of the Whisper API in prometheus.yml.
const API_JOB: &str = "whisper-api";
/// The scrape job of Prometheus itself.
const SELF_JOB: &str = "prometheus";

/// Where the test's processes listen, and how fast Prometheus should scrape and evaluate.
#[derive(Debug, Clone)]
pub struct TestTargets<'a> {
    /// `host:port` of the Whisper API.
    pub api: &'a str,
    /// `host:port` of Prometheus itself.
    pub prometheus: &'a str,
    /// Scrape and evaluation interval, e.g. `1s`.
    pub interval: &'a str,
    /// Absolute path of the alert rules file.
    pub rule_file: &'a str,
}

/// `config_yaml` with the API and Prometheus targets, the intervals and the rule file replaced;
/// everything else (job names, metrics path) kept as shipped.
pub fn rewrite_for_test(config_yaml: &str, targets: &TestTargets) -> Result<String, Error> {
    let mut config: Value = serde_yaml_ng::from_str(config_yaml)?;
    let root = config
        .as_mapping_mut()
        .ok_or(Error::NotAMapping("the top level"))?;
    let global = root
        .entry("global".into())
        .or_insert_with(|| Value::Mapping(Mapping::new()))
        .as_mapping_mut()
        .ok_or(Error::NotAMapping("global"))?;
    global.insert("scrape_interval".into(), targets.interval.into());
    global.insert("evaluation_interval".into(), targets.interval.into());
    root.insert(
        "rule_files".into(),
        Value::Sequence(vec![targets.rule_file.into()]),
    );

    let jobs = root
        .get_mut("scrape_configs")
        .and_then(Value::as_sequence_mut)
        .ok_or(Error::NotAMapping("scrape_configs"))?;
    let mut found_api = false;
    for job in jobs.iter_mut() {
        let job = job
            .as_mapping_mut()
            .ok_or(Error::NotAMapping("a scrape config"))?;
        let target = match job.get("job_name").and_then(Value::as_str) {
            Some(API_JOB) => {
                found_api = true;
                targets.api
            }
            Some(SELF_JOB) => targets.prometheus,
            _ => continue,
        };
        job.insert("scrape_interval".into(), targets.interval.into());
        let static_config: Mapping = [("targets".into(), Value::Sequence(vec![target.into()]))]
            .into_iter()
            .collect();
        job.insert(
            "static_configs".into(),
            Value::Sequence(vec![static_config.into()]),
        );
    }
    if !found_api {
        return Err(Error::MissingJob(API_JOB.to_string()));
    }
    Ok(serde_yaml_ng::to_string(&config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGETS: TestTargets = TestTargets {
        api: "127.0.0.1:1111",
        prometheus: "127.0.0.1:2222",
        interval: "1s",
        rule_file: "/abs/alert_rules.yml",
    };

    #[test]
    fn points_the_shipped_config_at_the_test_processes() {
        let out = rewrite_for_test(crate::PROMETHEUS_YML, &TARGETS).expect("rewritable");
        let config: Value = serde_yaml_ng::from_str(&out).expect("valid YAML");
        assert_eq!(config["global"]["scrape_interval"], "1s");
        assert_eq!(config["global"]["evaluation_interval"], "1s");
        assert_eq!(config["rule_files"][0], "/abs/alert_rules.yml");
        let jobs = config["scrape_configs"].as_sequence().expect("jobs");
        let target_of = |name: &str| {
            jobs.iter()
                .find(|j| j["job_name"] == name)
                .map(|j| j["static_configs"][0]["targets"][0].clone())
        };
        assert_eq!(target_of("whisper-api"), Some("127.0.0.1:1111".into()));
        assert_eq!(target_of("prometheus"), Some("127.0.0.1:2222".into()));
        let api = jobs
            .iter()
            .find(|j| j["job_name"] == "whisper-api")
            .expect("api job");
        assert_eq!(api["metrics_path"], "/metrics");
    }

    #[test]
    fn a_config_without_the_api_job_is_an_error() {
        let config =
            "scrape_configs:\n  - job_name: other\n    static_configs: [{targets: [a:1]}]\n";
        let err = rewrite_for_test(config, &TARGETS).expect_err("no api job");
        assert!(
            matches!(err, Error::MissingJob(ref job) if job == "whisper-api"),
            "{err}"
        );
    }

    #[test]
    fn a_config_that_is_not_a_mapping_is_an_error() {
        assert!(matches!(
            rewrite_for_test("- 1\n- 2\n", &TARGETS),
            Err(Error::NotAMapping(_))
        ));
    }
}
