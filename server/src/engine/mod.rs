//! The loaded model: one whisper context, a pool of states, and the thread budget.

pub mod cpu_load;
pub mod fitted;
pub mod lease;
pub mod params;
pub mod pool;
pub mod threads;
pub mod transcript;
pub mod windowed;
pub mod windows;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use prometheus::{IntCounter, IntCounterVec, IntGauge};
use whisper_rs::{WhisperContext, WhisperContextParameters, WhisperState};

use crate::model::{Weights, requantize};
use lease::Lease;
use params::TranscribeOptions;
pub use pool::PoolGauges;
use pool::{Pool, Slot};
use threads::{ThreadBudget, ThreadGrant};
use transcript::Transcript;
use windowed::{ModelInfo, Staffing};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
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
    #[error("inference was aborted")]
    Aborted,
    #[error("{0}")]
    Failed(String),
}

pub struct Engine {
    context: WhisperContext,
    pool: Arc<Pool<WhisperState>>,
    threads: ThreadBudget,
    parallel_windows: Option<IntCounter>,
    fitted_context: Option<IntCounterVec>,
    window_states: IntCounterVec,
}

/// How a request decoding windows changed the states it holds (`Engine::staffing_release`,
/// `Engine::staffing_recruit`), counted in `whisper_window_states_total{change}`.
#[derive(Debug, Clone, Copy)]
pub enum StateChange {
    Released,
    Recruited,
}

impl StateChange {
    pub const ALL: [StateChange; 2] = [StateChange::Released, StateChange::Recruited];

    pub fn label(self) -> &'static str {
        match self {
            StateChange::Released => "released",
            StateChange::Recruited => "recruited",
        }
    }
}

/// How the engine spends the CPU: whisper.cpp slows down many times over when its threads
/// outnumber the cores it really has, so every thread comes from one budget.
pub struct EngineConfig {
    /// Whisper states: requests transcribed at the same time.
    pub slots: usize,
    /// Threads all requests together may run.
    pub threads: usize,
    /// Requests allowed to wait for a slot.
    pub queue: usize,
    /// Give a request fewer threads while other processes keep cores busy.
    pub adapt_to_load: bool,
    /// Decode audio over 30 s as windows on several states at once (`windowed`).
    pub parallel_windows: bool,
    /// Try short clips with the encoder's context fitted to them first (`fitted`).
    pub fit_audio_context: bool,
    /// Weight type to run an f16 model file with (`model::requantize`).
    pub weights: Weights,
    /// whisper.cpp's flash attention (`--flash-attention`).
    pub flash_attention: bool,
}

/// Gauges the engine keeps current.
pub struct EngineGauges {
    pub pool: PoolGauges,
    pub threads_in_use: IntGauge,
    /// Windows decoded by `windowed::decode_windows`.
    pub parallel_windows: IntCounter,
    /// Fitted-context decodes by outcome: `kept`, or the `fitted::Suspicion` that discarded it.
    pub fitted_context: IntCounterVec,
    /// States given back or taken on between windows, by `StateChange`.
    pub window_states: IntCounterVec,
}

/// Loads the model file, its f16 matrices quantised to `weights` first when that differs.
fn load_context(
    path: &Path,
    weights: Weights,
    params: WhisperContextParameters,
) -> Result<WhisperContext, EngineError> {
    let shown = || path.display().to_string();
    let load_err = |source| EngineError::Load {
        path: shown(),
        source,
    };
    if weights == Weights::F16 {
        return WhisperContext::new_with_params(path, params).map_err(load_err);
    }
    let started = Instant::now();
    let file = std::fs::read(path).map_err(|source| EngineError::Read {
        path: shown(),
        source,
    })?;
    let requantized = requantize(&file, weights).map_err(|source| EngineError::Requantize {
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
    pub fn load(
        path: &Path,
        config: &EngineConfig,
        gauges: EngineGauges,
    ) -> Result<Self, EngineError> {
        let load_err = |source| EngineError::Load {
            path: path.display().to_string(),
            source,
        };
        let context_params = WhisperContextParameters {
            use_gpu: cfg!(feature = "cuda"),
            flash_attn: config.flash_attention,
            ..Default::default()
        };
        let context = load_context(path, config.weights, context_params)?;
        let states = (0..config.slots.max(1))
            .map(|_| context.create_state())
            .collect::<Result<Vec<_>, _>>()
            .map_err(load_err)?;
        let load = if config.adapt_to_load {
            cpu_load::CpuLoad::start()
        } else {
            None
        };
        Ok(Self {
            context,
            pool: Arc::new(Pool::new(states, config.queue, gauges.pool)),
            threads: ThreadBudget::new(config.threads, load, gauges.threads_in_use),
            parallel_windows: config.parallel_windows.then_some(gauges.parallel_windows),
            fitted_context: config.fit_audio_context.then_some(gauges.fitted_context),
            window_states: gauges.window_states,
        })
    }

    pub fn pool(&self) -> &Arc<Pool<WhisperState>> {
        &self.pool
    }

    pub fn threads(&self) -> &ThreadBudget {
        &self.threads
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

    /// Windows `plan_windows` cuts `samples` of audio into: 1 for audio whisper sees at once, or
    /// with parallel windows off.
    fn planned_windows(&self, samples: usize) -> usize {
        if self.parallel_windows.is_none() || windows::count(samples) == 1 {
            return 1;
        }
        let (target, _) = self.window_lengths();
        windows::count_for_workers(samples, self.max_states(), target)
    }

    /// The most states one request can decode on.
    fn max_states(&self) -> usize {
        self.pool.slots().min(self.threads.budget())
    }

    /// The window length to aim for and the longest allowed: with fitted contexts on, about
    /// 10 s (`windows::FITTED_TARGET_SAMPLES`) and no more than a fitted context takes;
    /// otherwise 30 s, since each window then costs a whole encoder pass.
    fn window_lengths(&self) -> (usize, usize) {
        if self.fitted_context.is_some() {
            (windows::FITTED_TARGET_SAMPLES, fitted::max_clip_samples())
        } else {
            (windows::MAX_WINDOW_SAMPLES, windows::MAX_WINDOW_SAMPLES)
        }
    }

    /// The states a request for `samples` of audio starts decoding on, from its `first` slot,
    /// each with its part of the request's `threads` (`threads().reserve()`). Long audio takes
    /// more slots when some are free now (never waiting for them), one thread each at least:
    /// threads beyond the grant are added even beside busy processes, since single-threaded
    /// states do not stall each other (`ThreadBudget::top_up`). While another request holds a
    /// slot, it runs or waits for threads: a state gains less from a second thread than that
    /// request gains from running now, so the grant keeps one thread per state. The states may
    /// change while its windows decode (`staffing_release`, `staffing_recruit`).
    pub fn gather_states(
        &self,
        first: Slot<WhisperState>,
        mut threads: ThreadGrant,
        samples: usize,
    ) -> Vec<Lease> {
        let wanted = self.planned_windows(samples).min(self.threads.budget());
        let mut slots = vec![first];
        while slots.len() < wanted {
            match self.pool.try_slot() {
                Some(extra) => slots.push(extra),
                None => break,
            }
        }
        self.threads.top_up(&mut threads, slots.len());
        slots.truncate(threads.threads());
        if self.pool.others_hold_slots(slots.len()) {
            threads.keep_at_most(slots.len());
        }
        let shares = windowed::share(threads.threads(), slots.len());
        slots
            .into_iter()
            .zip(threads.split(&shares))
            .map(|(slot, threads)| Lease::new(slot, threads))
            .collect()
    }

    /// Whether another request waits for a slot or a thread: then a request decoding windows
    /// gives back a state (not its first) between two windows, so the wait lasts one window.
    fn others_wait(&self) -> bool {
        self.pool.has_unserved_waiters() || self.threads.has_waiters()
    }

    /// `others_wait`, counting the state a worker gives back when it says yes.
    fn staffing_release(&self) -> bool {
        let release = self.others_wait();
        if release {
            self.count_state_change(StateChange::Released);
        }
        release
    }

    /// A state and a thread free now, while no request waits: a request that started beside
    /// others takes them on once those finish.
    fn staffing_recruit(&self) -> Option<Lease> {
        if self.others_wait() {
            return None;
        }
        let slot = self.pool.try_slot()?;
        let threads = self.threads.try_one()?;
        self.count_state_change(StateChange::Recruited);
        Some(Lease::new(slot, threads))
    }

    fn count_state_change(&self, change: StateChange) {
        self.window_states
            .with_label_values(&[change.label()])
            .inc();
    }

    /// Where to cut `pcm` (`window_lengths`). The count is a multiple of the most states a
    /// request can decode on, whatever this one holds: the same audio gets the same cuts (and so
    /// the same transcript) on a busy server as on an idle one, and a request on one state runs
    /// the slightly shorter windows of the parallel plan.
    fn plan_windows(&self, pcm: &[f32]) -> Vec<std::ops::Range<usize>> {
        let (_, max_window) = self.window_lengths();
        windows::plan(pcm, self.planned_windows(pcm.len()), max_window)
    }

    fn model_info(&self) -> ModelInfo {
        ModelInfo {
            eot: self.context.token_eot(),
        }
    }

    /// Runs whisper on 16 kHz mono samples on the `leases` of `gather_states`: with one
    /// state as whisper.cpp does, long audio as parallel windows (`windowed`). Each state and
    /// its threads go back as soon as the request no longer needs them. Blocking and
    /// CPU-heavy: call off the async runtime.
    pub fn transcribe(
        &self,
        mut leases: Vec<Lease>,
        pcm: &[f32],
        options: &TranscribeOptions,
        abort: &AtomicBool,
    ) -> Result<Transcript, EngineError> {
        let windows = self.planned_windows(pcm.len());
        match leases.as_mut_slice() {
            [] => Err(EngineError::Failed("no slot to decode on".into())),
            // Audio whisper sees at once decodes as whisper.cpp does. Longer audio on one
            // state takes the planned windows in a row when they can try fitted contexts;
            // whisper.cpp's own 30 s windows always run the full one (but pass each window's
            // text to the next as a prompt, so they win when nothing is fitted).
            [lease] if windows == 1 || self.fitted_context.is_none() => {
                let (state, threads) = lease.state()?;
                self.decode_one(state, threads, pcm, options, abort)
            }
            _ => {
                // The same cuts however many states this request holds (`plan_windows`).
                let plan = self.plan_windows(pcm);
                if let Some(counter) = &self.parallel_windows {
                    counter.inc_by(plan.len() as u64);
                }
                let staffing = Staffing {
                    release: &|| self.staffing_release(),
                    recruit: &|| self.staffing_recruit(),
                };
                windowed::decode_windows(leases, pcm, &plan, abort, &staffing, |lease, window| {
                    let (state, threads) = lease.state()?;
                    self.decode_one(state, threads, window, options, abort)
                })
            }
        }
    }

    /// One state: a short clip first with a fitted audio context, kept unless it looks like
    /// one of that lever's failures; otherwise (and for longer audio) whisper.cpp's full context.
    fn decode_one(
        &self,
        state: &mut WhisperState,
        threads: usize,
        pcm: &[f32],
        options: &TranscribeOptions,
        abort: &AtomicBool,
    ) -> Result<Transcript, EngineError> {
        let model = self.model_info();
        let fitted = self
            .fitted_context
            .as_ref()
            .zip(fitted::audio_ctx(pcm.len()));
        if let Some((outcomes, frames)) = fitted {
            let attempt =
                windowed::decode(state, model, threads, pcm, options, abort, Some(frames))?;
            match fitted::suspicion(&attempt) {
                None => {
                    outcomes.with_label_values(&["kept"]).inc();
                    return Ok(attempt);
                }
                Some(reason) => {
                    outcomes.with_label_values(&[reason.label()]).inc();
                    tracing::debug!(reason = reason.label(), text = %attempt.text(), "fitted audio context discarded");
                }
            }
        }
        windowed::decode(state, model, threads, pcm, options, abort, None)
    }
}
