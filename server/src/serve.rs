//! Running the server: bind, load the model in the background, serve, drain on signal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::{DefaultChunking, ServeArgs};
use crate::edge::EdgeLimits;
use crate::engine::vad::{Chunking, VadSettings};
use crate::engine::{Engine, EngineConfig, TimeLimit};
use crate::metrics::Metrics;
use crate::routes::form::UploadPace;
use crate::state::{AppState, Limits};

/// The CPUs this process may really use: `available_parallelism` honours cgroup quotas and
/// CPU affinity, unlike a count of the host's cores.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Most whisper states the server creates by default: each costs memory (hundreds of MB for
/// large models), and past a few concurrent requests more threads per request serve as well.
const DEFAULT_MAX_SLOTS: usize = 4;

/// The engine's CPU plan from the flags: 0 threads means every CPU the process may use; 0
/// slots means one per thread, up to `DEFAULT_MAX_SLOTS`.
pub fn engine_config(args: &ServeArgs, cpus: usize) -> EngineConfig {
    let threads = match args.threads {
        0 => cpus.max(1),
        n => n as usize,
    };
    let slots = match args.slots {
        0 => threads.min(DEFAULT_MAX_SLOTS),
        n => n as usize,
    };
    EngineConfig {
        slots,
        threads,
        queue: args.queue as usize,
        adapt_to_load: args.adapt_threads_to_load,
        parallel_windows: args.parallel_windows,
        windows_from_samples: crate::audio::whisper_samples(args.windows_from_seconds),
        fit_audio_context: args.fit_audio_context,
        weights: args.weights,
        flash_attention: args.flash_attention,
        vad_model: args.vad_model.clone(),
        default_chunking: match args.default_chunking {
            DefaultChunking::None => Chunking::Whole,
            DefaultChunking::Auto => Chunking::Speech(VadSettings::AUTO),
        },
    }
}

/// The HTTP edge's connection limits from the flags.
pub fn edge_limits(args: &ServeArgs) -> EdgeLimits {
    EdgeLimits {
        header_read: Duration::from_secs_f64(args.header_read_timeout_seconds),
        keep_alive_idle: Duration::from_secs_f64(args.keep_alive_idle_seconds),
        max_connections: args.max_connections as usize,
    }
}

pub fn build_state(args: &ServeArgs) -> anyhow::Result<Arc<AppState>> {
    let api_key = crate::auth::load_key(args.api_key.as_deref(), args.api_key_file.as_deref())?;
    anyhow::ensure!(
        args.max_audio_seconds > 0.0 && args.max_upload_bytes > 0,
        "--max-audio-seconds and --max-upload-bytes must be positive"
    );
    let limits = Limits {
        max_upload_bytes: args.max_upload_bytes,
        max_audio_seconds: args.max_audio_seconds,
        inference_time: TimeLimit {
            base_seconds: args.timeout_base_seconds,
            per_audio_second: args.timeout_per_audio_second,
        },
        upload_pace: UploadPace {
            timeout: Duration::from_secs_f64(args.upload_timeout_seconds),
            min_bytes_per_second: args.min_upload_bytes_per_second,
        },
    };
    Ok(Arc::new(AppState::new(
        limits,
        Metrics::new()?,
        args.model_name.clone(),
        api_key,
    )))
}

/// Loads the model into `state`; blocking (seconds for large models).
pub fn load_model(
    state: &AppState,
    args: &ServeArgs,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let config = engine_config(args, available_cpus());
    if config.slots > config.threads {
        warn!(
            slots = config.slots,
            threads = config.threads,
            "more slots than threads: the extra requests wait for a thread"
        );
    }
    let started = Instant::now();
    let engine = Engine::load(path, &config, state.metrics.engine.clone())?;
    let took = started.elapsed().as_secs_f64();
    state.metrics.model_load_duration.set(took);
    info!(
        model = %path.display(),
        seconds = took,
        slots = config.slots,
        threads = config.threads,
        adapt_to_load = config.adapt_to_load,
        parallel_windows = config.parallel_windows,
        fit_audio_context = config.fit_audio_context,
        weights = ?config.weights,
        flash_attention = config.flash_attention,
        multilingual = engine.is_multilingual(),
        "model loaded"
    );
    state.set_engine(engine);
    Ok(())
}

/// Where the model comes from: a local file, or a verified download cached by its digest.
enum ModelSource {
    File(PathBuf),
    Url {
        url: String,
        sha256: String,
        cached: PathBuf,
    },
}

impl ModelSource {
    fn from_args(args: &ServeArgs) -> anyhow::Result<Self> {
        match (&args.model, &args.model_url, &args.model_sha256) {
            (Some(path), _, _) => Ok(Self::File(path.clone())),
            (None, Some(url), Some(sha256)) => Ok(Self::Url {
                url: url.clone(),
                sha256: sha256.clone(),
                cached: args
                    .model_cache_dir
                    .join(format!("{}.bin", sha256.to_ascii_lowercase())),
            }),
            _ => anyhow::bail!(
                "no model: pass --model PATH, or --model-url with --model-sha256 \
                 (or set WHISPER_MODEL / WHISPER_MODEL_URL and WHISPER_MODEL_SHA256)"
            ),
        }
    }

    /// The local path, downloading first if needed. Blocking.
    fn resolve(self) -> anyhow::Result<PathBuf> {
        match self {
            Self::File(path) => Ok(path),
            Self::Url {
                url,
                sha256,
                cached,
            } => {
                crate::commands::fetch(&url, &sha256, &cached)?;
                Ok(cached)
            }
        }
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let source = ModelSource::from_args(&args)?;
    let state = build_state(&args)?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    info!(address = %listener.local_addr()?, "listening");

    let loader_state = state.clone();
    let loader_args = args.clone();
    let loader = tokio::task::spawn_blocking(move || {
        load_model(&loader_state, &loader_args, &source.resolve()?)
    });

    let grace = Duration::from_secs_f64(args.shutdown_grace_seconds.max(0.0));
    let (signalled_tx, signalled_rx) = tokio::sync::watch::channel(false);
    let drain_state = state.clone();
    let server = crate::edge::serve(
        listener,
        crate::app::app(state.clone()),
        edge_limits(&args),
        async move {
            if let Err(e) = crate::shutdown::termination_signal().await {
                warn!(error = %e, "cannot listen for signals; stopping");
            }
            let _ = signalled_tx.send(true);
            crate::shutdown::drain(drain_state, grace).await;
        },
    );
    // Connections that outlive the grace period must not hold the process up.
    let hard_stop = async move {
        let mut signalled = signalled_rx;
        let _ = signalled.wait_for(|s| *s).await;
        tokio::time::sleep(grace + Duration::from_secs(1)).await;
    };
    let loader_failed = async move {
        match loader.await {
            Ok(Ok(())) => std::future::pending().await,
            Ok(Err(e)) => e,
            Err(e) => anyhow::anyhow!("model loader crashed: {e}"),
        }
    };
    tokio::select! {
        () = server => {}
        e = loader_failed => return Err(e),
        () = hard_stop => warn!("connections still open after the grace period; exiting"),
    }
    info!("stopped");
    Ok(())
}
