//! One error type for the suite's helpers.

use std::time::Duration;

/// What went wrong while driving the cluster.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    #[error("environment variable {name} is not set: {hint}")]
    MissingEnv {
        name: &'static str,
        hint: &'static str,
    },
    #[error("WHISPER_E2E_MODE={0:?} is not a mode: use local or kind")]
    BadMode(String),
    #[error("reading kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        source: kube::config::KubeconfigError,
    },
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Yaml {
        what: String,
        source: serde_yaml::Error,
    },
    #[error("{what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("timed out after {after:?} waiting for {what}; last seen: {last}")]
    Timeout {
        what: String,
        after: Duration,
        last: String,
    },
    #[error("{0}")]
    Unexpected(String),
}

pub type Result<T, E = E2eError> = std::result::Result<T, E>;
