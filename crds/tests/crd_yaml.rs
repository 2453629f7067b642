//! The checked-in CRD must be exactly what the Rust types generate.

use std::path::Path;

#[test]
fn checked_in_crd_matches_the_generated_one() {
    let generated = whisper_crds::crd_yaml().expect("CRD serialises");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("whisperservice.yaml");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is out of date; regenerate it with: cargo run -p whisper-operator -- crd > crds/whisperservice.yaml",
        path.display()
    );
}

#[test]
fn crd_has_status_and_scale_subresources_and_short_name() {
    let crd: serde_json::Value =
        serde_yaml::from_str(&whisper_crds::crd_yaml().expect("CRD serialises")).expect("yaml");
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert!(version["subresources"]["status"].is_object());
    assert_eq!(
        version["subresources"]["scale"]["specReplicasPath"],
        ".spec.replicas"
    );
    assert_eq!(
        version["subresources"]["scale"]["labelSelectorPath"],
        ".status.selector"
    );
    assert_eq!(crd["spec"]["names"]["shortNames"][0], "ws");
    assert_eq!(crd["spec"]["group"], "whisper-operator.io");
}

/// `kubectl explain` shows each property's description: none may be missing.
#[test]
fn every_spec_and_status_property_has_a_description() {
    fn walk(path: &str, schema: &serde_json::Value, missing: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                if prop.get("description").is_none() {
                    missing.push(here.clone());
                }
                walk(&here, prop, missing);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(&format!("{path}[]"), items, missing);
        }
    }
    let crd: serde_json::Value =
        serde_yaml::from_str(&whisper_crds::crd_yaml().expect("CRD serialises")).expect("yaml");
    let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"];
    let mut missing = Vec::new();
    walk(".spec", &root["spec"], &mut missing);
    walk(".status", &root["status"], &mut missing);
    assert!(
        missing.is_empty(),
        "properties without a description: {missing:?}"
    );
}
