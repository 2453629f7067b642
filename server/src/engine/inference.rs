//! Inference: one whisper.cpp `full()` call on one whisper state.

use std::sync::atomic::{AtomicBool, Ordering};

use whisper_rs::WhisperState;

use super::error::EngineError;
use super::params::{self, TranscribeOptions};
use super::transcript::{self, Transcript};
use crate::audio::whisper_seconds as seconds;

/// What decoding needs to know of the loaded model.
#[derive(Debug, Clone, Copy)]
pub struct ModelInfo {
    /// First special token (end of text): tokens at or past it are not text.
    pub eot: i32,
}

/// Whether a decode retries at rising temperatures when it fails (whisper.cpp's fallback): with
/// the full context only. A fitted context that fails once keeps failing (seconds of sampled
/// loops on a 2 s clip); the guard in `fitted` sees the failure and the full context decodes
/// instead.
pub fn falls_back(audio_ctx: Option<usize>) -> bool {
    audio_ctx.is_none()
}

/// One whisper.cpp `full()` over `pcm` (which it windows itself, sequentially), with the
/// encoder's full 30 s context or `audio_ctx` frames of it (`fitted`).
pub fn run(
    state: &mut WhisperState,
    model: ModelInfo,
    threads: usize,
    pcm: &[f32],
    options: &TranscribeOptions,
    abort: &AtomicBool,
    audio_ctx: Option<usize>,
) -> Result<Transcript, EngineError> {
    let mut params = params::full_params(options, threads, abort, falls_back(audio_ctx));
    if let Some(frames) = audio_ctx {
        params.set_audio_ctx(i32::try_from(frames).unwrap_or(0));
    }
    let started = std::time::Instant::now();
    let result = state.full(params, pcm);
    tracing::debug!(
        seconds = seconds(pcm.len()),
        threads,
        audio_ctx,
        elapsed_ms = started.elapsed().as_millis(),
        "decoded"
    );
    if abort.load(Ordering::Relaxed) {
        return Err(EngineError::Aborted);
    }
    result.map_err(|e| EngineError::Failed(e.to_string()))?;
    Ok(transcript::read(
        state,
        model.eot,
        seconds(pcm.len()),
        options.language,
        options.word_timestamps,
    ))
}
