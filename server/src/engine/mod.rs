//! The loaded model: one whisper context, a pool of states, and the thread budget.

pub mod params;
pub mod pool;
pub mod transcript;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use prometheus::IntGauge;
use whisper_rs::{WhisperContext, WhisperContextParameters, WhisperState};

use params::TranscribeOptions;
use pool::{Pool, Slot};
use transcript::Transcript;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("could not load the model {path}: {source}")]
    Load {
        path: String,
        source: whisper_rs::WhisperError,
    },
    #[error("inference was aborted")]
    Aborted,
    #[error("{0}")]
    Failed(String),
}

pub struct Engine {
    context: WhisperContext,
    pool: Arc<Pool<WhisperState>>,
    threads_per_slot: usize,
}

/// Splits the CPU budget across slots so concurrent requests never oversubscribe the CPUs:
/// whisper.cpp slows down many times over when its threads outnumber the cores it really has.
pub fn threads_per_slot(total_threads: usize, slots: usize) -> usize {
    (total_threads / slots.max(1)).max(1)
}

impl Engine {
    pub fn load(
        path: &Path,
        slots: usize,
        total_threads: usize,
        queue: usize,
        gauges: (IntGauge, IntGauge),
    ) -> Result<Self, EngineError> {
        let load_err = |source| EngineError::Load {
            path: path.display().to_string(),
            source,
        };
        let context_params = WhisperContextParameters {
            use_gpu: cfg!(feature = "cuda"),
            ..Default::default()
        };
        let context = WhisperContext::new_with_params(path, context_params).map_err(load_err)?;
        let states = (0..slots.max(1))
            .map(|_| context.create_state())
            .collect::<Result<Vec<_>, _>>()
            .map_err(load_err)?;
        let (queue_depth, inflight) = gauges;
        Ok(Self {
            context,
            pool: Arc::new(Pool::new(states, queue, queue_depth, inflight)),
            threads_per_slot: threads_per_slot(total_threads, slots),
        })
    }

    pub fn pool(&self) -> &Arc<Pool<WhisperState>> {
        &self.pool
    }

    pub fn threads_per_slot(&self) -> usize {
        self.threads_per_slot
    }

    pub fn is_multilingual(&self) -> bool {
        self.context.is_multilingual()
    }

    /// Tokenizes a prompt, keeping its last tokens within whisper's prompt budget (half the
    /// text context), as whisper.cpp does for its initial prompt.
    pub fn prompt_tokens(&self, prompt: &str) -> Result<Vec<i32>, EngineError> {
        let budget = usize::try_from(self.context.n_text_ctx() / 2).unwrap_or(0);
        let mut tokens = self
            .context
            .tokenize(prompt, prompt.len() + 1)
            .map_err(|e| EngineError::Failed(format!("cannot tokenize the prompt: {e}")))?;
        if tokens.len() > budget {
            tokens.drain(..tokens.len() - budget);
        }
        Ok(tokens)
    }

    /// Runs whisper on 16 kHz mono samples. Blocking and CPU-heavy: call off the async runtime.
    pub fn transcribe(
        &self,
        slot: &mut Slot<WhisperState>,
        pcm: &[f32],
        options: &TranscribeOptions,
        abort: &AtomicBool,
    ) -> Result<Transcript, EngineError> {
        let state = slot
            .state()
            .ok_or_else(|| EngineError::Failed("no whisper state in the slot".into()))?;
        let params = params::full_params(options, self.threads_per_slot, abort);
        let result = state.full(params, pcm);
        if abort.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(EngineError::Aborted);
        }
        result.map_err(|e| EngineError::Failed(e.to_string()))?;
        let duration = pcm.len() as f64 / f64::from(crate::audio::WHISPER_SAMPLE_RATE);
        Ok(transcript::read(
            state,
            self.context.token_eot(),
            duration,
            options.language,
            options.word_timestamps,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_budget_is_split_across_slots_without_oversubscribing() {
        assert_eq!(threads_per_slot(2, 1), 2);
        assert_eq!(threads_per_slot(8, 3), 2);
        assert_eq!(threads_per_slot(2, 4), 1);
    }
}
