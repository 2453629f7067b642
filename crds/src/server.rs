//! whisper-server settings, passed as its command-line flags.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// whisper-server settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self.parallel <= self.threads").message("spec.server.parallel must not exceed spec.server.threads: every parallel slot needs at least one thread"))]
#[serde(rename_all = "camelCase")]
pub struct ServerSpec {
    /// Inference threads in total (split across parallel slots). The pod requests this many CPUs,
    /// so whisper.cpp never runs more threads than it has cores.
    #[serde(default = "default_threads")]
    #[schemars(range(min = 1, max = 256))]
    pub threads: i32,

    /// Requests transcribed at the same time (inference slots).
    #[serde(default = "default_parallel")]
    #[schemars(range(min = 1, max = 64))]
    pub parallel: i32,

    /// Requests allowed to wait for a free slot; beyond it the server answers 429.
    #[serde(default = "default_queue")]
    #[schemars(range(min = 0, max = 10000))]
    pub queue: i32,

    /// Largest accepted upload in bytes (default 25 MiB, as OpenAI's API).
    #[serde(default = "default_max_upload_bytes")]
    #[schemars(range(min = 1024, max = 4294967296_i64))]
    pub max_upload_bytes: i64,

    /// Longest accepted audio in seconds.
    #[serde(default = "default_max_audio_seconds")]
    #[schemars(range(min = 1, max = 86400))]
    pub max_audio_seconds: i32,

    /// Secret holding the API key clients must send as a bearer token. Absent means no auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<ApiKeySecret>,

    /// What a request that names no chunking_strategy decodes: none, the whole recording (as
    /// OpenAI's API does), or auto, only the speech the server's voice activity detector finds
    /// (faster on recordings with long pauses). A request may still ask for either.
    #[serde(default)]
    pub chunking: Chunking,
}

/// The server's default chunking (`--default-chunking`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Chunking {
    /// The whole recording.
    #[default]
    None,
    /// Only the speech voice activity detection finds.
    Auto,
}

impl Chunking {
    /// The value of the server's `--default-chunking`.
    pub fn as_str(self) -> &'static str {
        match self {
            Chunking::None => "none",
            Chunking::Auto => "auto",
        }
    }
}

/// A key in a Secret of the WhisperService's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySecret {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret whose value is the API key.
    #[serde(default = "default_api_key_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            parallel: default_parallel(),
            queue: default_queue(),
            max_upload_bytes: default_max_upload_bytes(),
            max_audio_seconds: default_max_audio_seconds(),
            api_key_secret: None,
            chunking: Chunking::default(),
        }
    }
}

fn default_threads() -> i32 {
    2
}
fn default_parallel() -> i32 {
    1
}
fn default_queue() -> i32 {
    8
}
fn default_max_upload_bytes() -> i64 {
    25 * 1024 * 1024
}
fn default_max_audio_seconds() -> i32 {
    3600
}
fn default_api_key_key() -> String {
    "api-key".to_string()
}
