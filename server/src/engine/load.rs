//! Loading the model file into a whisper context, and the engine around it.

use std::path::Path;
use std::time::Instant;

use whisper_rs::{WhisperContext, WhisperContextParameters};

use super::Engine;
use super::config::EngineConfig;
use super::cpu_load::CpuLoad;
use super::metrics::EngineMetrics;
use super::pool::Pool;
use super::schedule::Scheduler;
use super::threads::ThreadBudget;
use super::vad::Vad;
use super::window_plan::WindowPolicy;
use crate::model::{Weights, requantize};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("could not load the model {path}: {source}")]
    Load {
        path: String,
        source: whisper_rs::WhisperError,
    },
    #[error("could not read the model {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("could not quantise the model {path}: {source}")]
    Requantize {
        path: String,
        source: crate::model::RequantizeError,
    },
    #[error(transparent)]
    Vad(#[from] super::vad::VadLoadError),
}

/// Loads the model file, its f16 matrices quantised to `weights` first when that differs.
fn load_context(
    path: &Path,
    weights: Weights,
    params: WhisperContextParameters,
) -> Result<WhisperContext, LoadError> {
    let shown = || path.display().to_string();
    let load_err = |source| LoadError::Load {
        path: shown(),
        source,
    };
    if weights == Weights::F16 {
        return WhisperContext::new_with_params(path, params).map_err(load_err);
    }
    let started = Instant::now();
    let file = std::fs::read(path).map_err(|source| LoadError::Read {
        path: shown(),
        source,
    })?;
    let requantized = requantize(&file, weights).map_err(|source| LoadError::Requantize {
        path: shown(),
        source,
    })?;
    let Some(buffer) = requantized else {
        tracing::info!(model = %shown(), "the model file is not plain f16: loading it as it is");
        return WhisperContext::new_from_buffer_with_params(&file, params).map_err(load_err);
    };
    drop(file);
    tracing::info!(
        model = %shown(),
        weights = ?weights,
        bytes = buffer.len(),
        ms = started.elapsed().as_millis() as u64,
        "quantised the model's f16 matrices"
    );
    WhisperContext::new_from_buffer_with_params(&buffer, params).map_err(load_err)
}

impl Engine {
    /// Loads the model and creates its slots (one whisper state each); blocking (seconds for
    /// large models).
    pub fn load(
        path: &Path,
        config: &EngineConfig,
        metrics: EngineMetrics,
    ) -> Result<Self, LoadError> {
        let context_params = WhisperContextParameters {
            use_gpu: cfg!(feature = "cuda"),
            flash_attn: config.flash_attention,
            ..Default::default()
        };
        let context = load_context(path, config.weights, context_params)?;
        let vad = config.vad_model.as_deref().map(Vad::load).transpose()?;
        let states = (0..config.slots.max(1))
            .map(|_| context.create_state())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| LoadError::Load {
                path: path.display().to_string(),
                source,
            })?;
        let load = if config.adapt_to_load {
            CpuLoad::start(metrics.cpu_busy_elsewhere.clone())
        } else {
            None
        };
        let scheduler = Scheduler::new(
            Pool::new(states, config.queue, metrics.pool_gauges()),
            ThreadBudget::new(config.threads, load, metrics.threads_in_use.clone()),
            metrics.window_states.clone(),
        );
        metrics.slots.set(scheduler.slots() as i64);
        metrics
            .thread_budget
            .set(scheduler.threads().budget() as i64);
        let windows = WindowPolicy {
            parallel: config.parallel_windows,
            from_samples: config.windows_from_samples,
            fitted: config.fit_audio_context,
            max_workers: scheduler.max_workers(),
        };
        Ok(Self {
            context,
            scheduler,
            windows,
            vad,
            default_chunking: config.default_chunking,
            metrics,
        })
    }
}
