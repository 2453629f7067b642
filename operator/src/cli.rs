//! Command line of the binary; every flag also reads an environment variable.

use std::{net::SocketAddr, time::Duration};

use clap::{Parser, Subcommand};
use whisper_http_edge::EdgeLimits;
use whisper_operator::catalogue::{Catalogue, CatalogueError};

#[derive(Parser, Debug)]
#[command(
    name = "whisper-operator",
    version,
    about = "Runs whisper-server for each WhisperService"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the WhisperService CustomResourceDefinition as YAML.
    Crd,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "WHISPER_OPERATOR_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Seconds a connection to those endpoints has to send a whole request head, from its
    /// opening or from the first byte of a later request (slow-header clients are dropped).
    #[arg(long, env = "WHISPER_OPERATOR_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_seconds: u64,
    /// Seconds a kept-alive connection to those endpoints may wait for its next request.
    #[arg(long, env = "WHISPER_OPERATOR_KEEP_ALIVE_IDLE_SECONDS", default_value_t = 75, value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_alive_idle_seconds: u64,
    /// Most open connections to those endpoints; past it a new connection gets a 503 and is
    /// closed, while the open ones are served.
    #[arg(long, env = "WHISPER_OPERATOR_MAX_CONNECTIONS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Namespaces to watch, comma-separated; empty watches all.
    #[arg(
        long,
        env = "WHISPER_OPERATOR_NAMESPACES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub namespaces: Vec<String>,
    /// Server image for WhisperServices that name none.
    #[arg(long, env = "WHISPER_OPERATOR_SERVER_IMAGE", default_value_t = whisper_operator::config::default_server_image())]
    pub server_image: String,
    /// Catalogue overrides: a JSON object of model names to {"url", "sha256"}; an entry replaces
    /// the built-in one of that name (a mirror) or adds a name.
    #[arg(long, env = "WHISPER_OPERATOR_MODEL_CATALOGUE", default_value = "")]
    pub model_catalogue: String,
    /// WhisperServices reconciled at once.
    #[arg(long, env = "WHISPER_OPERATOR_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Seconds between reconciles of an unchanged WhisperService (each spread by up to 10%).
    /// Watches repair deleted or edited children at once; this catches what no watch sees
    /// (monitoring kinds installed after the operator started, label edits on a Deployment).
    #[arg(long, env = "WHISPER_OPERATOR_RESYNC_SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub resync_seconds: u64,
    /// Seconds a discovery answer about the optional kinds (ServiceMonitor, PrometheusRule, ScaledObject) is trusted.
    #[arg(long, env = "WHISPER_OPERATOR_DISCOVERY_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub discovery_seconds: u64,
    /// Elect a leader through a Lease so several replicas are safe.
    #[arg(
        long,
        env = "WHISPER_OPERATOR_LEADER_ELECTION",
        default_value_t = false
    )]
    pub leader_election: bool,
    /// Namespace of the leader Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub leader_election_namespace: String,
    /// Name of the leader Lease.
    #[arg(
        long,
        env = "WHISPER_OPERATOR_LEASE_NAME",
        default_value = "whisper-operator-leader"
    )]
    pub lease_name: String,
    /// This replica's identity in the Lease and in Events (the pod name).
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// Log format.
    #[arg(
        long,
        env = "WHISPER_OPERATOR_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LogFormat {
    Text,
    Json,
}

impl RunArgs {
    /// The HTTP edge's connection limits.
    pub fn edge_limits(&self) -> EdgeLimits {
        EdgeLimits {
            header_read: Duration::from_secs(self.header_read_timeout_seconds),
            keep_alive_idle: Duration::from_secs(self.keep_alive_idle_seconds),
            max_connections: self.max_connections as usize,
        }
    }

    pub fn config(&self) -> Result<whisper_operator::Config, CatalogueError> {
        Ok(whisper_operator::Config {
            namespaces: self
                .namespaces
                .iter()
                .filter(|n| !n.is_empty())
                .cloned()
                .collect(),
            server_image: self.server_image.clone(),
            catalogue: Catalogue::with_overrides(&self.model_catalogue)?,
            resync: Duration::from_secs(self.resync_seconds),
            discovery_ttl: Duration::from_secs(self.discovery_seconds),
            concurrency: self.concurrency,
            instance: self.pod_name.clone(),
        })
    }
}
