//! The dashboard against Grafana's published types (@grafana/schema, via schema-check/run.sh and
//! the TypeScript compiler): the real file passes and malformed copies fail. Needs Node.js and npm;
//! the first run installs the pinned packages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn run_schema_check(dashboard: &Path) -> Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema-check/run.sh");
    Command::new("bash")
        .arg(&script)
        .arg(dashboard)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()))
}

/// An edit that breaks the dashboard in one way.
type Mutation = fn(&mut Value);

fn broken_copy(dir: &Path, name: &str, mutate: Mutation) -> PathBuf {
    let mut dashboard: Value =
        serde_json::from_str(whisper_monitoring::DASHBOARD_JSON).expect("dashboard is JSON");
    mutate(&mut dashboard);
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, dashboard.to_string()).expect("write broken copy");
    path
}

// One test, so npm installs once and the cases run in order.
#[test]
fn dashboard_matches_grafana_schema_and_malformed_panels_do_not() {
    let real =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("grafana/dashboards/whisper-dashboard.json");
    let out = run_schema_check(&real);
    assert!(
        out.status.success(),
        "the dashboard does not match @grafana/schema (is Node.js/npm installed?):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&str, Mutation); 7] = [
        ("panel_without_type", |d| {
            d["panels"][0]
                .as_object_mut()
                .expect("panel")
                .remove("type");
        }),
        ("grid_width_as_string", |d| {
            d["panels"][0]["gridPos"]["w"] = "12".into();
        }),
        ("misspelled_gridpos", |d| {
            let panel = d["panels"][0].as_object_mut().expect("panel");
            let pos = panel.remove("gridPos").expect("gridPos");
            panel.insert("gridpos".into(), pos);
        }),
        ("unknown_stat_text_mode", |d| {
            d["panels"][1]["options"]["textMode"] = "huge".into();
        }),
        ("target_without_ref_id", |d| {
            d["panels"][0]["targets"][0]
                .as_object_mut()
                .expect("target")
                .remove("refId");
        }),
        ("threshold_mode_typo", |d| {
            d["panels"][1]["fieldConfig"]["defaults"]["thresholds"]["mode"] = "absolut".into();
        }),
        ("unknown_variable_type", |d| {
            d["templating"]["list"][1]["type"] = "querry".into();
        }),
    ];
    for (name, mutate) in cases {
        let path = broken_copy(dir.path(), name, mutate);
        let out = run_schema_check(&path);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: the schema check should reject it:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("error TS"),
            "{name}: no tsc error"
        );
    }
}
