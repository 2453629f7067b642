//! Voice activity detection: where a recording has speech, by whisper.cpp's Silero VAD, so
//! that only the speech is decoded (`speech_map`). The model file comes from
//! `whisper-server import-silero-vad`.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use whisper_rs::{WhisperVadContext, WhisperVadContextParams, WhisperVadParams};

use super::error::EngineError;
use crate::audio::WHISPER_SAMPLE_RATE;

/// How a request's speech is found: OpenAI's `server_vad` chunking settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadSettings {
    /// Probability above which a 32 ms frame counts as speech.
    pub threshold: f32,
    /// Audio kept before (and after) each stretch of speech, so no word's edge is cut off.
    pub padding_ms: u32,
    /// Silence shorter than this does not end a stretch of speech.
    pub min_silence_ms: u32,
}

impl VadSettings {
    /// `chunking_strategy: "auto"`: the settings faster-whisper's `vad_filter` uses (Silero's
    /// threshold, 2 s of silence to split, 400 ms of padding), which keep the pauses inside
    /// sentences and drop the long ones.
    pub const AUTO: Self = Self {
        threshold: 0.5,
        padding_ms: 400,
        min_silence_ms: 2000,
    };

    /// OpenAI's defaults for a `server_vad` object's missing fields.
    pub const SERVER_VAD_DEFAULTS: Self = Self {
        threshold: 0.5,
        padding_ms: 300,
        min_silence_ms: 200,
    };

    /// The padding in samples: the part of each stretch of speech the VAD found that is pause.
    pub fn padding_samples(&self) -> usize {
        self.padding_ms as usize * WHISPER_SAMPLE_RATE as usize / 1000
    }

    fn whisper_params(&self) -> WhisperVadParams {
        let mut params = WhisperVadParams::new();
        params.set_threshold(self.threshold);
        params.set_speech_pad(i32::try_from(self.padding_ms).unwrap_or(i32::MAX));
        params.set_min_silence_duration(i32::try_from(self.min_silence_ms).unwrap_or(i32::MAX));
        // Speech runs of any length are kept whole: the window planner cuts long ones.
        params.set_max_speech_duration(f32::MAX);
        params
    }
}

/// What a request decodes (OpenAI's `chunking_strategy`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Chunking {
    /// The whole recording, as one block (`chunking_strategy` unset in OpenAI's API).
    Whole,
    /// Only the speech the VAD finds with these settings (`"auto"`, or a `server_vad` object).
    Speech(VadSettings),
}

#[derive(Debug, thiserror::Error)]
pub enum VadLoadError {
    #[error("the VAD model path {0} is not valid UTF-8 without NUL bytes")]
    Path(PathBuf),
    #[error(
        "whisper.cpp could not load the VAD model {0} (make one with `whisper-server \
         import-silero-vad`)"
    )]
    Load(PathBuf),
}

/// The loaded VAD model: contexts to run it on, one per request running it at a time (a
/// context's detection is stateful), created when all are in use.
pub struct Vad {
    path: String,
    idle: Mutex<Vec<WhisperVadContext>>,
}

impl Vad {
    /// Loads the model once to check it, and keeps that context for the first request.
    pub fn load(path: &Path) -> Result<Self, VadLoadError> {
        let text = path
            .to_str()
            .filter(|p| !p.contains('\0'))
            .ok_or_else(|| VadLoadError::Path(path.to_path_buf()))?
            .to_string();
        let first = context(&text).ok_or_else(|| VadLoadError::Load(path.to_path_buf()))?;
        Ok(Self {
            path: text,
            idle: Mutex::new(vec![first]),
        })
    }

    /// The sample ranges of `pcm` (16 kHz mono) that hold speech, in order. Blocking and
    /// CPU-bound (one small network pass per 32 ms).
    pub fn speech(
        &self,
        pcm: &[f32],
        settings: &VadSettings,
    ) -> Result<Vec<Range<usize>>, EngineError> {
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut vad = match taken {
            Some(vad) => vad,
            None => context(&self.path)
                .ok_or_else(|| EngineError::Failed("could not load the VAD model".into()))?,
        };
        let found = vad
            .segments_from_samples(settings.whisper_params(), pcm)
            .map(|segments| {
                segments
                    .map(|s| samples(s.start, pcm.len())..samples(s.end, pcm.len()))
                    .filter(|range| !range.is_empty())
                    .collect()
            })
            .map_err(|e| EngineError::Failed(format!("voice activity detection failed: {e}")));
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(vad);
        found
    }
}

fn context(path: &str) -> Option<WhisperVadContext> {
    let mut params = WhisperVadContextParams::new();
    // The network is tiny: more threads only add synchronisation to each 32 ms step.
    params.set_n_threads(1);
    WhisperVadContext::new(path, params).ok()
}

/// A VAD time (centiseconds) as a sample index within `len` samples.
fn samples(centiseconds: f32, len: usize) -> usize {
    let index = f64::from(centiseconds.max(0.0)) / 100.0 * f64::from(WHISPER_SAMPLE_RATE);
    (index.round() as usize).min(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vad_times_become_sample_indices_within_the_audio() {
        assert_eq!(samples(0.0, 1000), 0);
        assert_eq!(samples(1.0, 16_000), 160);
        assert_eq!(samples(150.0, 100_000), 24_000);
        // whisper.cpp may place an end up to a frame past the audio.
        assert_eq!(samples(150.0, 20_000), 20_000);
        assert_eq!(samples(-3.0, 20_000), 0);
    }

    #[test]
    fn a_missing_or_bad_model_is_a_load_error() {
        let missing = Path::new("/nonexistent/vad.bin");
        assert!(matches!(Vad::load(missing), Err(VadLoadError::Load(_))));
        let nul = Path::new("vad\0.bin");
        assert!(matches!(Vad::load(nul), Err(VadLoadError::Path(_))));
    }
}
