//! Test fixtures: WhisperServices from small YAML snippets, as a user would write them.

use whisper_crds::{WhisperService, WhisperServiceSpec};

/// Parses a spec; defaults are applied by serde exactly as the API server's schema would.
pub fn spec_from_yaml(yaml: &str) -> WhisperServiceSpec {
    serde_yaml::from_str(yaml).expect("fixture spec parses")
}

/// A WhisperService `name` in namespace `ns` with a uid, as read back from the API server.
pub fn service(name: &str, ns: &str, spec_yaml: &str) -> WhisperService {
    let mut ws = WhisperService::new(name, spec_from_yaml(spec_yaml));
    ws.metadata.namespace = Some(ns.to_string());
    ws.metadata.uid = Some(format!("uid-{name}"));
    ws.metadata.generation = Some(1);
    ws
}
