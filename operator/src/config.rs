//! Settings of a controller run, independent of how they were given (flags, env, tests).

use std::time::Duration;

use crate::catalogue::Catalogue;

/// What `run_controller` needs besides a client.
#[derive(Clone, Debug)]
pub struct Config {
    /// Namespaces to watch; empty means every namespace.
    pub namespaces: Vec<String>,
    /// Server image for WhisperServices that do not name one.
    pub server_image: String,
    /// Model names WhisperServices may use instead of a URL.
    pub catalogue: Catalogue,
    /// How often a WhisperService is reconciled without an event: the watches see the rest.
    pub resync: Duration,
    /// How long a discovery answer about the optional kinds is trusted.
    pub discovery_ttl: Duration,
    /// WhisperServices reconciled at once.
    pub concurrency: u16,
    /// Name of the reporting controller instance in Events (usually the pod name).
    pub instance: Option<String>,
}

/// The server image of the same version as this operator.
pub fn default_server_image() -> String {
    format!(
        "ghcr.io/whisper-operator/whisper-server:{}",
        env!("CARGO_PKG_VERSION")
    )
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            server_image: default_server_image(),
            catalogue: Catalogue::builtin(),
            resync: Duration::from_secs(3600),
            discovery_ttl: Duration::from_secs(30),
            concurrency: 8,
            instance: None,
        }
    }
}
