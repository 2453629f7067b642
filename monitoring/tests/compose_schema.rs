//! docker-compose.yml against the official Compose Specification JSON schema, the one
//! `docker compose` itself validates files with (compose-go's schema/compose-spec.json). There is
//! no container engine on this project's machines, so this is the check we can make:
//! scripts/fetch-compose-schema.sh fetches the pinned schema, $WHISPER_COMPOSE_SCHEMA names it.
//! The second test shows the check can fail: broken copies of the file must be rejected.

use std::path::PathBuf;

use serde_json::Value;

fn monitoring_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// $WHISPER_COMPOSE_SCHEMA, else where scripts/fetch-compose-schema.sh caches its pinned version.
fn schema_path() -> PathBuf {
    const HOW: &str = "no Compose Specification schema: run scripts/fetch-compose-schema.sh \
                       (or set $WHISPER_COMPOSE_SCHEMA to a compose-spec.json)";
    if let Some(path) = std::env::var_os("WHISPER_COMPOSE_SCHEMA").map(PathBuf::from) {
        assert!(
            path.is_file(),
            "$WHISPER_COMPOSE_SCHEMA = {} is not a file",
            path.display()
        );
        return path;
    }
    let script = monitoring_dir().join("../scripts/fetch-compose-schema.sh");
    let script = std::fs::read_to_string(&script)
        .unwrap_or_else(|e| panic!("read {}: {e}", script.display()));
    let version = script
        .lines()
        .find_map(|l| l.strip_prefix("VERSION=\""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("VERSION=\"...\" in scripts/fetch-compose-schema.sh");
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = home.join(format!(
        ".cache/whisper-operator/compose-spec-{version}/compose-spec.json"
    ));
    assert!(path.is_file(), "{HOW}; looked in {}", path.display());
    path
}

fn validator() -> jsonschema::Validator {
    let path = schema_path();
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{} is not a usable JSON schema: {e}", path.display()))
}

/// The compose file as JSON, the data model the schema describes.
fn compose() -> Value {
    let path = monitoring_dir().join("docker-compose.yml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// Every validation error as "at <instance path>: <message>".
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect()
}

#[test]
fn compose_file_matches_the_compose_specification() {
    let errors = errors(&validator(), &compose());
    assert!(
        errors.is_empty(),
        "monitoring/docker-compose.yml does not match the Compose Specification ({}):\n{}",
        schema_path().display(),
        errors.join("\n")
    );
}

#[test]
fn schema_rejects_a_misspelt_key_and_a_wrongly_typed_value() {
    let validator = validator();
    let mut misspelt = compose();
    misspelt["services"]["whisper-api"]["service"] = Value::from("whisper-api");
    let mut wrong_type = compose();
    wrong_type["services"]["prometheus"]["ports"] = Value::from("x");
    for (what, broken, at) in [
        (
            "`service:` under a service",
            misspelt,
            "/services/whisper-api",
        ),
        ("`ports: \"x\"`", wrong_type, "/services/prometheus/ports"),
    ] {
        let errors = errors(&validator, &broken);
        assert!(
            errors.iter().any(|e| e.starts_with(&format!("at {at:?}:"))),
            "a compose file with {what} should be rejected at {at}; errors: {errors:#?}"
        );
    }
}
