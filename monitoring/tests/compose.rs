//! The compose file wires what the seed's guide promises, checked statically (compose-test.sh runs
//! it): the API built from server/Dockerfile with a model volume and listening where
//! prometheus.yml scrapes it, Prometheus with 200h retention and the rules beside its config,
//! Grafana on 3000 as admin/grafana with the provisioning and dashboard folders mounted where the
//! provisioning files point. Images and host ports are `${VAR:-default}` so the live test can pass
//! local images and free ports; the checks read the defaults, which are what users get.

use std::path::PathBuf;

use serde_yaml_ng::Value;

fn monitoring_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(monitoring_dir().join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Compose's interpolation with an empty environment (HOME aside): `${NAME:-default}` becomes its
/// default, innermost first, so the result is what a user who sets nothing gets.
fn defaults(text: &str) -> String {
    let mut text = text.replace("${HOME}", "/home/user");
    while let Some(start) = text.rfind("${") {
        let end = start + text[start..].find('}').expect("unclosed ${");
        let inner = text[start + 2..end].to_string();
        let (name, default) = inner
            .split_once(":-")
            .unwrap_or_else(|| panic!("${{{inner}}} has no default: users would need to set it"));
        assert!(
            name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{name}"
        );
        let default = default.to_string();
        text.replace_range(start..=end, &default);
    }
    text
}

/// The variables a value reads, outermost first.
fn variables(text: &str) -> Vec<&str> {
    text.match_indices("${")
        .map(|(i, _)| {
            let rest = &text[i + 2..];
            let end = rest.find([':', '}']).expect("variable name");
            &rest[..end]
        })
        .collect()
}

fn default_strings(value: &Value) -> Vec<String> {
    strings(value).into_iter().map(defaults).collect()
}

fn workspace_version() -> String {
    let cargo =
        std::fs::read_to_string(monitoring_dir().join("../Cargo.toml")).expect("Cargo.toml");
    let section = cargo
        .split("[workspace.package]")
        .nth(1)
        .expect("[workspace.package]");
    section
        .lines()
        .find_map(|l| l.trim().strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("workspace version")
        .to_owned()
}

#[test]
fn api_is_built_from_the_server_dockerfile_with_a_model_volume() {
    let compose = yaml("docker-compose.yml");
    let api = &compose["services"]["whisper-api"];
    assert_eq!(api["build"]["context"], "..");
    assert_eq!(api["build"]["dockerfile"], "server/Dockerfile");
    let dockerfile = monitoring_dir().join("../server/Dockerfile");
    assert!(dockerfile.is_file(), "{} is missing", dockerfile.display());
    let model = api["environment"]["WHISPER_MODEL"]
        .as_str()
        .expect("WHISPER_MODEL");
    assert!(model.starts_with("/models/"), "{model}");
    assert!(
        strings(&api["volumes"])
            .iter()
            .any(|v| v.ends_with(":/models:ro")),
        "no model volume"
    );
    assert_eq!(api["environment"]["WHISPER_LISTEN"], "0.0.0.0:8000");
    assert_eq!(default_strings(&api["ports"]), ["8000:8000"]);
}

#[test]
fn images_default_to_what_users_get_and_can_be_overridden() {
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    // The server image the operator deploys by default, at the workspace version.
    let operator = std::fs::read_to_string(monitoring_dir().join("../operator/src/config.rs"))
        .expect("read operator/src/config.rs");
    assert!(operator.contains("\"ghcr.io/whisper-operator/whisper-server:{}\""));
    for (service, var, default) in [
        (
            "whisper-api",
            "WHISPER_SERVER_IMAGE",
            format!(
                "ghcr.io/whisper-operator/whisper-server:{}",
                workspace_version()
            ),
        ),
        (
            "prometheus",
            "PROMETHEUS_IMAGE",
            "prom/prometheus:v3.5.0".to_owned(),
        ),
        (
            "grafana",
            "GRAFANA_IMAGE",
            "grafana/grafana:11.6.0".to_owned(),
        ),
    ] {
        let image = services[service]["image"].as_str().expect("image");
        assert_eq!(variables(image), [var], "{service}: {image}");
        assert_eq!(defaults(image), default, "{service}: {image}");
    }
}

#[test]
fn the_live_test_sets_the_variables_the_file_reads() {
    let script = std::fs::read_to_string(monitoring_dir().join("compose-test.sh"))
        .expect("read monitoring/compose-test.sh");
    let text = std::fs::read_to_string(monitoring_dir().join("docker-compose.yml"))
        .expect("read docker-compose.yml");
    for var in [
        "WHISPER_SERVER_IMAGE",
        "PROMETHEUS_IMAGE",
        "WHISPER_MODEL_DIR",
        "WHISPER_API_PORT",
        "PROMETHEUS_PORT",
    ] {
        assert!(
            text.contains(&format!("${{{var}:-")),
            "the compose file does not read {var}"
        );
        assert!(
            script.contains(&format!("{var}="))
                && script
                    .lines()
                    .any(|l| l.starts_with("export ") && l.contains(var)),
            "compose-test.sh does not set and export {var}"
        );
    }
    // The services it starts, and says it leaves out.
    assert!(
        script
            .lines()
            .any(|l| l.starts_with("compose up -d") && l.ends_with(" whisper-api prometheus")),
        "compose-test.sh does not start exactly the API and Prometheus"
    );
    assert!(script.contains("grafana: not started (AGPL image, not buildable here)"));
}

#[test]
fn prometheus_scrapes_the_compose_services_by_name() {
    let config = yaml("prometheus.yml");
    let jobs = config["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs");
    let api = jobs
        .iter()
        .find(|j| j["job_name"] == "whisper-api")
        .expect("whisper-api job");
    assert_eq!(
        strings(&api["static_configs"][0]["targets"]),
        ["whisper-api:8000"]
    );
    assert_eq!(api["scrape_interval"], "5s");
    assert_eq!(api["metrics_path"], "/metrics");
    let own = jobs
        .iter()
        .find(|j| j["job_name"] == "prometheus")
        .expect("prometheus job");
    assert_eq!(
        strings(&own["static_configs"][0]["targets"]),
        ["localhost:9090"]
    );
    assert_eq!(config["global"]["scrape_interval"], "15s");
    assert_eq!(config["global"]["evaluation_interval"], "15s");
    assert_eq!(strings(&config["rule_files"]), ["alert_rules.yml"]);
    let compose = yaml("docker-compose.yml");
    assert!(compose["services"]["whisper-api"].is_mapping());
}

#[test]
fn prometheus_keeps_200h_and_finds_its_rules_beside_its_config() {
    let compose = yaml("docker-compose.yml");
    let prometheus = &compose["services"]["prometheus"];
    let command = strings(&prometheus["command"]);
    assert!(
        command.contains(&"--storage.tsdb.retention.time=200h"),
        "{command:?}"
    );
    assert!(
        command.contains(&"--config.file=/etc/prometheus/prometheus.yml"),
        "{command:?}"
    );
    let volumes = strings(&prometheus["volumes"]);
    assert!(volumes.contains(&"./prometheus.yml:/etc/prometheus/prometheus.yml:ro"));
    assert!(volumes.contains(&"./alert_rules.yml:/etc/prometheus/alert_rules.yml:ro"));
    assert_eq!(default_strings(&prometheus["ports"]), ["9090:9090"]);
}

#[test]
fn grafana_runs_on_3000_as_admin_with_provisioned_datasource_and_dashboard() {
    let compose = yaml("docker-compose.yml");
    let grafana = &compose["services"]["grafana"];
    assert_eq!(grafana["environment"]["GF_SECURITY_ADMIN_USER"], "admin");
    assert_eq!(
        grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"],
        "grafana"
    );
    assert_eq!(default_strings(&grafana["ports"]), ["3000:3000"]);
    let volumes = strings(&grafana["volumes"]);
    assert!(volumes.contains(&"./grafana/provisioning:/etc/grafana/provisioning:ro"));

    let providers = yaml("grafana/provisioning/dashboards/dashboard.yml");
    let path = providers["providers"][0]["options"]["path"]
        .as_str()
        .expect("provider path");
    assert!(
        volumes.contains(&format!("./grafana/dashboards:{path}:ro").as_str()),
        "{volumes:?}"
    );

    let datasources = yaml("grafana/provisioning/datasources/prometheus.yml");
    let ds = &datasources["datasources"][0];
    assert_eq!(ds["type"], "prometheus");
    assert_eq!(ds["access"], "proxy");
    assert_eq!(ds["url"], "http://prometheus:9090");
    assert!(compose["services"]["prometheus"].is_mapping());
}

#[test]
fn every_bind_mount_source_exists() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_mapping().expect("services");
    for (name, service) in services {
        for volume in strings(&service["volumes"]) {
            if let Some(source) = volume.split(':').next().filter(|s| s.starts_with("./")) {
                let path = monitoring_dir().join(source);
                assert!(
                    path.exists(),
                    "service {name:?} mounts missing {}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_server_reads_the_environment_the_compose_file_sets() {
    let config = std::fs::read_to_string(monitoring_dir().join("../server/src/config.rs"))
        .expect("read server/src/config.rs");
    for var in ["WHISPER_MODEL", "WHISPER_LISTEN"] {
        assert!(
            config.contains(&format!("env = \"{var}\"")),
            "the server has no {var} setting"
        );
    }
}
