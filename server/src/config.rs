//! Command line and environment configuration. Every flag has an env var.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::Weights;

#[derive(Debug, Parser)]
#[command(
    name = "whisper-server",
    version,
    about = "OpenAI-compatible Whisper transcription server on whisper.cpp",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert a CTranslate2 (faster-whisper) Whisper model folder into a ggml model file.
    ImportCt2 {
        /// Folder holding model.bin, config.json and vocabulary.
        #[arg(long, env = "WHISPER_IMPORT_INPUT")]
        input: PathBuf,
        /// ggml file to write.
        #[arg(long, env = "WHISPER_IMPORT_OUTPUT")]
        output: PathBuf,
        /// How to store the weight matrices: f16 as the checkpoint, or q8_0 (half the size).
        #[arg(long, env = "WHISPER_IMPORT_WEIGHTS", value_enum, default_value_t = Weights::F16)]
        weights: Weights,
    },
    /// Convert Silero VAD's ONNX model into whisper.cpp's VAD model file: the one faster-whisper
    /// bundles (faster_whisper/assets/silero_vad_v6.onnx) or silero-vad's
    /// silero_vad_16k_op15.onnx, alone or inside its wheel.
    ImportSileroVad {
        /// The ONNX file, or the wheel (faster-whisper's or silero-vad's) that holds it.
        #[arg(long, env = "WHISPER_VAD_IMPORT_INPUT")]
        input: PathBuf,
        /// VAD model file to write.
        #[arg(long, env = "WHISPER_VAD_IMPORT_OUTPUT")]
        output: PathBuf,
        /// Silero's version (such as 6.2.0), recorded in the file; known inputs need none.
        #[arg(long, env = "WHISPER_VAD_IMPORT_VERSION", value_parser = silero_version)]
        silero_version: Option<[usize; 3]>,
    },
    /// Download a model file, verify its SHA-256 and move it into place atomically.
    FetchModel {
        /// Where to download the model from.
        #[arg(long, env = "WHISPER_MODEL_URL")]
        url: String,
        /// Expected SHA-256 of the file, hex.
        #[arg(long, env = "WHISPER_MODEL_SHA256")]
        sha256: String,
        /// Final path of the verified file.
        #[arg(long, env = "WHISPER_FETCH_OUTPUT")]
        output: PathBuf,
    },
}

/// The chunking a request gets when it names none (`--default-chunking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DefaultChunking {
    None,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// ggml Whisper model file to load.
    #[arg(long, env = "WHISPER_MODEL")]
    pub model: Option<PathBuf>,
    /// Download the model from this URL instead of --model (needs --model-sha256).
    #[arg(
        long,
        env = "WHISPER_MODEL_URL",
        requires = "model_sha256",
        conflicts_with = "model"
    )]
    pub model_url: Option<String>,
    /// Expected SHA-256 (hex) of the file at --model-url.
    #[arg(long, env = "WHISPER_MODEL_SHA256", requires = "model_url")]
    pub model_sha256: Option<String>,
    /// Folder where a downloaded model is cached, keyed by its SHA-256.
    #[arg(
        long,
        env = "WHISPER_MODEL_CACHE_DIR",
        default_value = "/var/cache/whisper-server"
    )]
    pub model_cache_dir: PathBuf,
    /// Model id reported by /v1/models (requests may name any model; one is loaded).
    #[arg(long, env = "WHISPER_MODEL_NAME", default_value = "whisper-1")]
    pub model_name: String,
    /// Address to listen on.
    #[arg(long, env = "WHISPER_LISTEN", default_value = "0.0.0.0:8000")]
    pub listen: SocketAddr,
    /// Inference slots: requests transcribed at the same time, each with its own whisper state;
    /// 0 = one per thread, at most 4. Concurrent requests share --threads, never exceed it.
    #[arg(long, env = "WHISPER_SLOTS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub slots: u32,
    /// Requests allowed to wait for a slot; more get 429.
    #[arg(long, env = "WHISPER_QUEUE", default_value_t = 16)]
    pub queue: u32,
    /// Inference threads all requests together may run; 0 = the CPUs this process may use
    /// (cgroup-aware). A lone request gets all of them, concurrent ones share them.
    #[arg(long, env = "WHISPER_THREADS", default_value_t = 0)]
    pub threads: u32,
    /// Give a request fewer threads while other processes keep cores of the host busy
    /// (measured from /proc/stat): whisper.cpp's threads stall when one lacks a core.
    #[arg(
        long,
        env = "WHISPER_ADAPT_THREADS_TO_LOAD",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub adapt_threads_to_load: bool,
    /// Decode audio longer than 30 s (and fitted audio past --windows-from-seconds) as
    /// pause-aligned windows on several whisper states at once (free slots, the request's
    /// threads shared between them) instead of one after the other; windows do not see the
    /// previous window's text.
    #[arg(
        long,
        env = "WHISPER_PARALLEL_WINDOWS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub parallel_windows: bool,
    /// With parallel windows and fitted contexts on, audio longer than this many seconds (at
    /// most 30) is cut in two at a pause, as longer audio is cut into windows, so it
    /// decodes on two single-threaded states: two windows cost less than one fitted
    /// window twice their length, and do not stall beside a busy process.
    #[arg(long, env = "WHISPER_WINDOWS_FROM_SECONDS", default_value_t = 15.0, value_parser = window_threshold_seconds)]
    pub windows_from_seconds: f64,
    /// Decode a clip under about 20 s first with the encoder's context cut to the clip plus
    /// 2.56 s (several times less encoder work), keeping the result unless it shows that lever's
    /// failure modes (repeats, garbage, low confidence); otherwise decode it again in full.
    #[arg(
        long,
        env = "WHISPER_FIT_AUDIO_CONTEXT",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub fit_audio_context: bool,
    /// Weight type inference runs with: q8_0 quantises an f16 model file's matrices while it
    /// loads (ggml's quantiser; on this project's benchmark 0.86-0.90x the time of f16 with the
    /// same corpus WER); q4_0 likewise into 4-bit blocks (faster, and less accurate on long
    /// recordings: docs/benchmarks.md, run Y); f16 runs the file as it is. Already quantised
    /// files always run as they are.
    #[arg(long, env = "WHISPER_WEIGHTS", value_enum, default_value_t = Weights::default_for_serving())]
    pub weights: Weights,
    /// whisper.cpp's flash attention kernels (fused attention: fewer, larger GPU kernels). Off
    /// by default: slower on this project's CPU benchmark; docs/benchmarks.md has the CUDA figures.
    #[arg(
        long,
        env = "WHISPER_FLASH_ATTENTION",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub flash_attention: bool,
    /// A Silero VAD model in whisper.cpp's format (make one with `whisper-server
    /// import-silero-vad`): requests may then ask for only their speech to be decoded
    /// (`chunking_strategy`), which skips pauses and never reads words into silence.
    #[arg(long, env = "WHISPER_VAD_MODEL")]
    pub vad_model: Option<PathBuf>,
    /// What a request without `chunking_strategy` gets: `none` decodes the whole recording (as
    /// OpenAI's API does), `auto` only the speech the VAD finds (needs --vad-model). A request
    /// may still ask for either.
    #[arg(long, env = "WHISPER_DEFAULT_CHUNKING", value_enum, default_value_t = DefaultChunking::None, requires_if("auto", "vad_model"))]
    pub default_chunking: DefaultChunking,
    /// Largest accepted upload, in bytes (413 above).
    #[arg(long, env = "WHISPER_MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// Longest accepted audio, in seconds (413 above).
    #[arg(long, env = "WHISPER_MAX_AUDIO_SECONDS", default_value_t = 1800.0)]
    pub max_audio_seconds: f64,
    /// Request timeout: this many seconds plus --timeout-per-audio-second times the audio length.
    #[arg(long, env = "WHISPER_TIMEOUT_BASE_SECONDS", default_value_t = 30.0)]
    pub timeout_base_seconds: f64,
    /// Extra timeout per second of audio.
    #[arg(long, env = "WHISPER_TIMEOUT_PER_AUDIO_SECOND", default_value_t = 2.0)]
    pub timeout_per_audio_second: f64,
    /// After SIGTERM/SIGINT, how long in-flight requests may take before the process exits.
    #[arg(long, env = "WHISPER_SHUTDOWN_GRACE_SECONDS", default_value_t = 30.0)]
    pub shutdown_grace_seconds: f64,
    /// A connection must deliver a complete request head within this many seconds of opening,
    /// or of the first byte of a later request on it (slow-header clients are dropped).
    #[arg(long, env = "WHISPER_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 15.0, value_parser = positive_seconds)]
    pub header_read_timeout_seconds: f64,
    /// A kept-alive connection with no request for this many seconds is closed.
    #[arg(long, env = "WHISPER_KEEP_ALIVE_IDLE_SECONDS", default_value_t = 75.0, value_parser = positive_seconds)]
    pub keep_alive_idle_seconds: f64,
    /// An upload must arrive within this many seconds, plus one second per
    /// --min-upload-bytes-per-second bytes received (408 otherwise).
    #[arg(long, env = "WHISPER_UPLOAD_TIMEOUT_SECONDS", default_value_t = 30.0, value_parser = positive_seconds)]
    pub upload_timeout_seconds: f64,
    /// The slowest upload rate kept up past --upload-timeout-seconds.
    #[arg(long, env = "WHISPER_MIN_UPLOAD_BYTES_PER_SECOND", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_upload_bytes_per_second: u64,
    /// Most open connections; beyond it a new connection gets a 503 and is closed, while the
    /// open ones are served.
    #[arg(long, env = "WHISPER_MAX_CONNECTIONS", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Bearer API key required on every endpoint but /healthz, /readyz and /metrics.
    #[arg(
        long,
        env = "WHISPER_API_KEY",
        hide_env_values = true,
        conflicts_with = "api_key_file"
    )]
    pub api_key: Option<String>,
    /// File holding the API key (surrounding whitespace ignored).
    #[arg(long, env = "WHISPER_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Log line format.
    #[arg(long, env = "WHISPER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax). Symphonia logs an ERROR for every upload it cannot
    /// read; that is the client's 4xx, counted in whisper_transcription_errors_total, so it is off.
    #[arg(
        long,
        env = "WHISPER_LOG",
        default_value = "info,whisper_rs=warn,symphonia=off"
    )]
    pub log: String,
}

/// A duration flag: a positive, finite number of seconds.
fn positive_seconds(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Ok(seconds),
        _ => Err(format!("'{value}' is not a positive number of seconds")),
    }
}

/// `--windows-from-seconds`: 0 to 30 (whisper's window; longer audio is always cut).
fn window_threshold_seconds(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(seconds) if (0.0..=30.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!("'{value}' is not a number of seconds from 0 to 30")),
    }
}

fn silero_version(text: &str) -> Result<[usize; 3], String> {
    crate::model::parse_silero_version(text)
        .ok_or_else(|| format!("'{text}' is not a version such as 6.2.0"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_serve_flag_has_an_env_var() {
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            assert!(arg.get_env().is_some(), "flag --{id} has no env var");
        }
    }

    #[test]
    fn a_window_threshold_outside_whispers_window_is_refused() {
        for bad in ["-1", "31", "NaN", "inf", "fifteen"] {
            let flag = format!("--windows-from-seconds={bad}");
            let error = Cli::try_parse_from(["whisper-server", flag.as_str()])
                .expect_err(bad)
                .to_string();
            assert!(error.contains("from 0 to 30"), "{bad}: {error}");
        }
        for good in ["0", "15", "30"] {
            assert!(
                Cli::try_parse_from(["whisper-server", "--windows-from-seconds", good]).is_ok()
            );
        }
    }
}
