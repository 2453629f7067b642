//! The compose file wires what the seed's guide promises, checked statically (no container engine
//! here): the API built from server/Dockerfile with a model volume and listening where
//! prometheus.yml scrapes it, Prometheus with 200h retention and the rules beside its config,
//! Grafana on 3000 as admin/grafana with the provisioning and dashboard folders mounted where the
//! provisioning files point.

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
    assert!(strings(&api["ports"]).contains(&"8000:8000"));
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
    assert!(strings(&prometheus["ports"]).contains(&"9090:9090"));
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
    assert!(strings(&grafana["ports"]).contains(&"3000:3000"));
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
