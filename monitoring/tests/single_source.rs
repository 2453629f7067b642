//! One source of truth: any other file in the repository that carries the dashboard or the alert
//! rules (a chart's copy, say) must be byte-identical to the files in monitoring/.

use std::path::{Path, PathBuf};

use whisper_monitoring::{ALERT_RULES_YAML, DASHBOARD_JSON};

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

#[test]
fn copies_of_the_dashboard_and_rules_elsewhere_are_identical() {
    let monitoring = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = monitoring.join("..");
    let mut files = Vec::new();
    files_under(&root, &mut files);
    let dashboard: serde_json::Value =
        serde_json::from_str(DASHBOARD_JSON).expect("dashboard JSON");
    let uid = dashboard["uid"].as_str().expect("dashboard uid");
    let mut checked = 0;
    for file in files.iter().filter(|f| !f.starts_with(&monitoring)) {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "whisper-dashboard.json" {
            let copy = std::fs::read_to_string(file).unwrap_or_default();
            assert_eq!(
                copy,
                DASHBOARD_JSON,
                "{} drifted from the dashboard",
                file.display()
            );
            checked += 1;
        } else if name == "alert_rules.yml" {
            let copy = std::fs::read_to_string(file).unwrap_or_default();
            assert_eq!(
                copy,
                ALERT_RULES_YAML,
                "{} drifted from the alert rules",
                file.display()
            );
            checked += 1;
        } else if name.ends_with(".json") {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            assert!(
                !text.contains(&format!("\"uid\": \"{uid}\"")),
                "{} holds a second copy of the dashboard; embed whisper_monitoring::DASHBOARD_JSON instead",
                file.display()
            );
        }
    }
    eprintln!("checked {checked} copies");
}
