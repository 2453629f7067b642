//! The loaded model, and the one way a request reaches it: `Engine::transcribe`, in stages:
//!
//! 1. admission (`schedule`): a place in the bounded wait queue, or `InferError::QueueFull` at
//!    once;
//! 2. seating: the wait for the request's first slot (`pool`);
//! 3. the audio, prepared (decoded, resampled) on a blocking thread once a slot is held, so no
//!    more uploads are decoded at once than there are slots; when the request asks, only its
//!    speech is kept (`vad`, `speech_map`), and audio with none is answered at once;
//! 4. the window plan (`window_plan`), computed once and carried to the next two stages; with
//!    the VAD, windows are cut at the pauses it found;
//! 5. staffing (`schedule`): threads from the budget (`threads`) and, for long audio, extra
//!    slots free now;
//! 6. inference on a blocking thread (`inference`, `parallel_windows`), time-limited, and aborted
//!    when the caller drops the future (the client went away);
//! 7. the non-speech markers (`[BLANK_AUDIO]`, `(music)`) taken out of the transcript
//!    (`non_speech`), after the fitted-context guard has judged the raw decode, and the times
//!    of a speech-only decode moved back onto the recording.
//!
//! A streaming request also hears of its progress (`progress`): once stage 3 succeeded, and
//! each window's transcript as soon as the windows before it are done.
//!
//! Words used throughout: a *slot* is one of the pool's whisper states, held by one request at
//! a time; a *worker* (`worker`) is a slot with the threads that run it; *staffing* changes a
//! request's workers between windows (releasing one to a waiting request, recruiting a free one).

pub mod config;
pub mod cpu_load;
pub mod error;
pub mod fitted;
pub mod inference;
pub mod load;
pub mod metrics;
pub mod non_speech;
pub mod parallel_windows;
pub mod params;
pub mod pool;
pub mod progress;
pub mod runnable;
pub mod sampler_seed;
pub mod schedule;
pub mod speech_map;
pub mod threads;
pub mod transcript;
pub mod vad;
pub mod window_plan;
pub mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use whisper_rs::{WhisperContext, WhisperState};

use crate::audio::{AudioError, whisper_seconds};
pub use config::{EngineConfig, TimeLimit};
pub use error::{EngineError, InferError};
use inference::ModelInfo;
pub use load::LoadError;
pub use metrics::EngineMetrics;
use parallel_windows::Staffing;
use params::TranscribeOptions;
use progress::{InOrder, Progress, ProgressSink};
use schedule::Scheduler;
use speech_map::SpeechMap;
use transcript::Transcript;
use vad::{Chunking, Vad, VadSettings};
use window_plan::{WindowPlan, WindowPolicy};
use worker::Worker;

pub struct Engine {
    context: WhisperContext,
    scheduler: Scheduler<WhisperState>,
    windows: WindowPolicy,
    /// Voice activity detection, when the server was given a VAD model (`--vad-model`).
    vad: Option<Vad>,
    /// What a request that names no `chunking_strategy` decodes.
    default_chunking: Chunking,
    metrics: EngineMetrics,
}

/// A finished transcription.
pub struct Transcribed {
    pub transcript: Transcript,
    /// Seconds of audio transcribed.
    pub audio_seconds: f64,
}

/// The audio a request decodes: its recording, or the recording's speech alone (packed by a
/// `SpeechMap`, which takes its times back to the recording).
struct Audio<'a> {
    pcm: &'a [f32],
    speech: Option<&'a SpeechMap>,
}

impl Audio<'_> {
    /// Where the VAD found pauses: the places to cut windows.
    fn pauses(&self) -> Vec<usize> {
        self.speech.map(SpeechMap::pauses).unwrap_or_default()
    }

    /// A transcript of (part of) this audio, with its times on the recording.
    fn on_recording(&self, decoded: Transcript) -> Transcript {
        match self.speech {
            Some(map) => map.restore(decoded),
            None => decoded,
        }
    }
}

/// Sets the abort flag of a decode when the future driving it is dropped: whisper.cpp then
/// stops at its next check, and the slots and threads go back.
struct AbortOnDrop(Arc<AtomicBool>);

impl AbortOnDrop {
    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.set();
    }
}

impl Engine {
    pub fn is_multilingual(&self) -> bool {
        self.context.is_multilingual()
    }

    /// Whether requests can ask for only their speech to be decoded (`chunking_strategy`).
    pub fn has_vad(&self) -> bool {
        self.vad.is_some()
    }

    /// What a request that names no `chunking_strategy` decodes (`--default-chunking`).
    pub fn default_chunking(&self) -> Chunking {
        self.default_chunking
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

    /// Transcribes the audio `prepare` returns (16 kHz mono samples), through every stage of the
    /// module doc. `prepare` runs on a blocking thread once the request holds a slot. `progress`
    /// hears when inference starts and of each part of the transcript as it is done.
    pub async fn transcribe<P>(
        self: &Arc<Self>,
        prepare: P,
        options: TranscribeOptions,
        time_limit: TimeLimit,
        progress: ProgressSink,
    ) -> Result<Transcribed, InferError>
    where
        P: FnOnce() -> Result<Vec<f32>, AudioError> + Send + 'static,
    {
        let abort = AbortOnDrop(Arc::new(AtomicBool::new(false)));
        let ticket = self.scheduler.admit()?;
        let first = self.scheduler.seat(ticket).await?;
        let recording = tokio::task::spawn_blocking(prepare).await??;
        let audio_seconds = whisper_seconds(recording.len());
        let (pcm, speech) = match options.vad {
            None => (recording, None),
            Some(settings) => {
                let engine = self.clone();
                let (pcm, map) =
                    tokio::task::spawn_blocking(move || engine.only_speech(recording, &settings))
                        .await??;
                (pcm, Some(map))
            }
        };
        if speech.as_ref().is_some_and(SpeechMap::is_empty) {
            progress.send(Progress::Started);
            return Ok(Transcribed {
                transcript: Transcript::join(Vec::new(), audio_seconds),
                audio_seconds,
            });
        }
        let plan = self.windows.plan(pcm.len());
        let workers = self.scheduler.staff(first, plan.windows()).await;
        progress.send(Progress::Started);

        let limit = time_limit.for_audio(audio_seconds);
        let engine = self.clone();
        let flag = abort.0.clone();
        // The workers (slots and threads) go back inside, not when the caller's future ends: an
        // aborted inference still runs until full() returns.
        let mut job = tokio::task::spawn_blocking(move || {
            let audio = Audio {
                pcm: &pcm,
                speech: speech.as_ref(),
            };
            engine.infer(workers, &audio, plan, &options, &flag, &progress)
        });
        let transcript = match tokio::time::timeout(limit, &mut job).await {
            Ok(joined) => joined??,
            Err(_) => {
                abort.set();
                // Wait for whisper.cpp to notice the abort so the slots are really free again.
                let _ = job.await;
                return Err(InferError::Timeout { limit });
            }
        };
        Ok(Transcribed {
            transcript,
            audio_seconds,
        })
    }

    /// The speech of `recording` packed, and the map back (`speech_map`): VAD with `settings`.
    /// Blocking and CPU-bound.
    fn only_speech(
        &self,
        recording: Vec<f32>,
        settings: &VadSettings,
    ) -> Result<(Vec<f32>, SpeechMap), EngineError> {
        let vad = self
            .vad
            .as_ref()
            .ok_or_else(|| EngineError::Failed("this server has no VAD model".into()))?;
        let started = Instant::now();
        let speech = vad.speech(&recording, settings)?;
        self.metrics
            .vad_duration
            .observe(started.elapsed().as_secs_f64());
        let map = SpeechMap::new(&speech, recording.len(), settings.padding_samples());
        self.metrics
            .vad_skipped_audio
            .inc_by(whisper_seconds(recording.len() - map.speech_samples()));
        Ok((map.pack(&recording), map))
    }

    /// A new whisper state of the model, its random generator at whisper.cpp's seed
    /// (`sampler_seed`).
    fn new_state(&self) -> Result<WhisperState, EngineError> {
        self.context
            .create_state()
            .map_err(|e| EngineError::Failed(format!("cannot make a whisper state: {e}")))
    }

    /// Runs whisper on `pcm` on `workers` as `plan` says: in one call as whisper.cpp does, or
    /// as windows on the workers (`parallel_windows`), staffed by the scheduler. Each worker
    /// goes back as soon as the request no longer needs it. Blocking and CPU-heavy.
    fn infer(
        &self,
        workers: Vec<Worker<WhisperState>>,
        audio: &Audio,
        plan: WindowPlan,
        options: &TranscribeOptions,
        abort: &AtomicBool,
        progress: &ProgressSink,
    ) -> Result<Transcript, EngineError> {
        let started = Instant::now();
        let result = self
            .infer_on(workers, audio, plan, options, abort, progress)
            .map(|decoded| audio.on_recording(decoded.without_non_speech()));
        self.metrics
            .inference_duration
            .observe(started.elapsed().as_secs_f64());
        result
    }

    fn infer_on(
        &self,
        mut workers: Vec<Worker<WhisperState>>,
        audio: &Audio,
        plan: WindowPlan,
        options: &TranscribeOptions,
        abort: &AtomicBool,
        progress: &ProgressSink,
    ) -> Result<Transcript, EngineError> {
        let model = ModelInfo {
            eot: self.context.token_eot(),
        };
        let fitted = self.windows.fitted.then_some(&self.metrics.fitted_context);
        let decode_one = |worker: &mut Worker<WhisperState>, pcm: &[f32]| {
            fitted::with_fallback(pcm.len(), fitted, |audio_ctx| {
                let draws = sampler_seed::may_draw(options, inference::falls_back(audio_ctx));
                let (state, threads) = worker.state(draws, || self.new_state())?;
                inference::run(state, model, threads, pcm, options, abort, audio_ctx)
            })
        };
        let pcm = audio.pcm;
        match workers.as_mut_slice() {
            [] => Err(EngineError::Failed("no slot to decode on".into())),
            [worker] if plan.one_call() => decode_one(worker, pcm),
            _ => {
                let cuts = plan.cuts(pcm, &audio.pauses());
                self.metrics.parallel_windows.inc_by(cuts.len() as u64);
                let release = || self.scheduler.release();
                let recruit = || self.scheduler.recruit();
                let staffing = Staffing {
                    release: &release,
                    recruit: &recruit,
                };
                let in_order = InOrder::new(progress);
                let duration = whisper_seconds(pcm.len());
                let on_window = |window: usize, part: &Transcript| {
                    if progress.is_wanted() {
                        let offset = whisper_seconds(cuts[window].start);
                        let part = Transcript::join(vec![(offset, part.clone())], duration);
                        in_order.finished(window, audio.on_recording(part.without_non_speech()));
                    }
                };
                parallel_windows::decode_windows(
                    workers, pcm, &cuts, abort, &staffing, decode_one, &on_window,
                )
            }
        }
    }
}
