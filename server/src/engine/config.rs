//! How the engine spends the CPU and which speed levers it uses.

use std::path::PathBuf;

use super::vad::Chunking;
use crate::model::Weights;

/// whisper.cpp slows down many times over when its threads outnumber the cores it really has,
/// so every thread comes from one budget.
pub struct EngineConfig {
    /// Whisper states: requests transcribed at the same time.
    pub slots: usize,
    /// Threads all requests together may run.
    pub threads: usize,
    /// Requests allowed to wait for a slot.
    pub queue: usize,
    /// Give a request fewer threads while other processes keep cores busy.
    pub adapt_to_load: bool,
    /// Decode audio over 30 s as windows on several states at once (`parallel_windows`).
    pub parallel_windows: bool,
    /// Audio longer than this many samples is cut into windows (at most 30 s).
    pub windows_from_samples: usize,
    /// Try short clips with the encoder's context fitted to them first (`fitted`).
    pub fit_audio_context: bool,
    /// Weight type to run an f16 model file with (`model::requantize`).
    pub weights: Weights,
    /// whisper.cpp's flash attention (`--flash-attention`).
    pub flash_attention: bool,
    /// A Silero VAD model in whisper.cpp's format (`--vad-model`), for `chunking_strategy`.
    pub vad_model: Option<PathBuf>,
    /// What a request that names no `chunking_strategy` decodes (`--default-chunking`).
    pub default_chunking: Chunking,
}

/// How long decoding may take: a base plus a share of the audio's length.
#[derive(Debug, Clone, Copy)]
pub struct TimeLimit {
    pub base_seconds: f64,
    pub per_audio_second: f64,
}

impl TimeLimit {
    /// The limit for `audio_seconds` of audio: it grows with the audio.
    pub fn for_audio(&self, audio_seconds: f64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(
            (self.base_seconds + self.per_audio_second * audio_seconds).max(0.001),
        )
    }
}
