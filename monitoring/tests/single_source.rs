//! One source of truth: any other file in the repository named like the dashboard or the alert
//! rules (a chart's copy, say) must be byte-identical to the files in monitoring/, and no other
//! JSON or YAML file may carry the dashboard (its uid) or an alert rule under another name.

use std::path::{Path, PathBuf};

use whisper_monitoring::{ALERT_RULES_YAML, DASHBOARD_JSON, alert_rules};

const SKIPPED_DIRS: &[&str] = &[".git", "target", "node_modules"];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) && !name.starts_with("target-") {
                files_under(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// Files outside monitoring/ that a second copy could hide in, by kind.
#[derive(Default)]
struct Scanned {
    json: usize,
    yaml: usize,
}

#[test]
fn no_file_outside_monitoring_holds_a_drifted_or_second_copy_of_the_dashboard_or_rules() {
    let monitoring = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The parent itself, not `monitoring/..`: every path under that would start with
    // monitoring/ and be skipped as the source.
    let root = monitoring
        .parent()
        .expect("monitoring/ lies in the repository");
    let mut files = Vec::new();
    files_under(root, &mut files);
    let dashboard: serde_json::Value =
        serde_json::from_str(DASHBOARD_JSON).expect("dashboard JSON");
    let uid = dashboard["uid"].as_str().expect("dashboard uid");
    let rule_names: Vec<String> = alert_rules(ALERT_RULES_YAML)
        .expect("alert rules parse")
        .into_iter()
        .map(|rule| rule.name)
        .collect();
    assert!(!rule_names.is_empty(), "the alert rules hold no rule");
    let mut copies = 0;
    let mut scanned = Scanned::default();
    for file in files.iter().filter(|f| !f.starts_with(&monitoring)) {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = || std::fs::read_to_string(file).unwrap_or_default();
        if name == "whisper-dashboard.json" {
            assert_eq!(
                text(),
                DASHBOARD_JSON,
                "{} drifted from the dashboard",
                file.display()
            );
            copies += 1;
        } else if name == "alert_rules.yml" {
            assert_eq!(
                text(),
                ALERT_RULES_YAML,
                "{} drifted from the alert rules",
                file.display()
            );
            copies += 1;
        } else if name.ends_with(".json") {
            scanned.json += 1;
            assert!(
                !text().contains(&format!("\"uid\": \"{uid}\"")),
                "{} holds a second copy of the dashboard; embed whisper_monitoring::DASHBOARD_JSON instead",
                file.display()
            );
        } else if name.ends_with(".yml") || name.ends_with(".yaml") {
            scanned.yaml += 1;
            let text = text();
            for rule in &rule_names {
                assert!(
                    !text.contains(&format!("alert: {rule}")),
                    "{} holds a second copy of the alert rule {rule}; embed \
                     whisper_monitoring::ALERT_RULES_YAML instead",
                    file.display()
                );
            }
        }
    }
    // Zero files searched would pass every check above: the walk must have reached the
    // repository's other JSON and YAML files (the chart's schema and templates, for one).
    assert!(
        scanned.json > 0 && scanned.yaml > 0,
        "searched {} JSON and {} YAML files outside {}: the walk missed the repository",
        scanned.json,
        scanned.yaml,
        monitoring.display()
    );
    eprintln!(
        "{copies} identical copies; searched {} JSON and {} YAML files for a second copy",
        scanned.json, scanned.yaml
    );
}
