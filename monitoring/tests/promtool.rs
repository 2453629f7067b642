//! The shipped Prometheus configuration and alert rules, checked by Prometheus's own promtool:
//! syntax, and unit tests that fire and do not fire each alert (tests/alert_rules_test.yml).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn monitoring_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn promtool(args: &[&str], dir: &Path) -> Output {
    Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}): install the Debian package `prometheus` \
                 (scripts/install-deps.sh does)"
            )
        })
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn promtool_accepts_the_prometheus_config_and_its_rule_file() {
    let out = promtool(&["check", "config", "prometheus.yml"], &monitoring_dir());
    assert_success(&out, "promtool check config prometheus.yml");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 rule files found"));
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let out = promtool(&["check", "rules", "alert_rules.yml"], &monitoring_dir());
    assert_success(&out, "promtool check rules alert_rules.yml");
}

#[test]
fn promtool_unit_tests_fire_and_do_not_fire_each_alert() {
    let out = promtool(
        &["test", "rules", "tests/alert_rules_test.yml"],
        &monitoring_dir(),
    );
    assert_success(&out, "promtool test rules tests/alert_rules_test.yml");
}

#[test]
fn every_alert_has_a_firing_case_in_the_promtool_tests() {
    let tests = std::fs::read_to_string(monitoring_dir().join("tests/alert_rules_test.yml"))
        .expect("read alert_rules_test.yml");
    for rule in whisper_monitoring::alert_rules(whisper_monitoring::ALERT_RULES_YAML)
        .expect("alert rules parse")
    {
        let cases = tests
            .matches(&format!("alertname: {}\n", rule.name))
            .count();
        assert!(
            cases >= 2,
            "alert {} needs a firing and a silent promtool case, has {cases}",
            rule.name
        );
    }
}

/// The unit tests have teeth: with HighErrorRate's threshold raised they fail.
#[test]
fn promtool_unit_tests_catch_a_changed_threshold() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = whisper_monitoring::ALERT_RULES_YAML.replace(
        "(rate(whisper_transcription_errors_total[5m])) > 0.1",
        "(rate(whisper_transcription_errors_total[5m])) > 100",
    );
    assert_ne!(
        rules,
        whisper_monitoring::ALERT_RULES_YAML,
        "the mutation must apply"
    );
    std::fs::write(dir.path().join("alert_rules.yml"), rules).expect("write rules");
    std::fs::create_dir(dir.path().join("tests")).expect("mkdir");
    std::fs::copy(
        monitoring_dir().join("tests/alert_rules_test.yml"),
        dir.path().join("tests/alert_rules_test.yml"),
    )
    .expect("copy tests");
    let out = promtool(&["test", "rules", "tests/alert_rules_test.yml"], dir.path());
    assert!(
        !out.status.success(),
        "promtool should fail on the mutated rules"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("HighErrorRate"));
}
