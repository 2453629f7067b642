//! Audio input: any supported container/codec in, 16 kHz mono f32 out.

pub mod decode;
pub mod resample;
pub mod riff_header;

use std::time::{Duration, Instant};

use prometheus::{Histogram, Registry};

use crate::metrics::{histogram, register};
use whisper_monitoring::names;

/// The sample rate whisper.cpp expects.
pub const WHISPER_SAMPLE_RATE: u32 = 16_000;

/// How long `samples` of whisper input (16 kHz mono) last, in seconds.
pub fn whisper_seconds(samples: usize) -> f64 {
    samples as f64 / f64::from(WHISPER_SAMPLE_RATE)
}

/// The whisper input samples (16 kHz mono) nearest `seconds`; none before 0.
pub fn whisper_samples(seconds: f64) -> usize {
    (seconds.max(0.0) * f64::from(WHISPER_SAMPLE_RATE)).round() as usize
}

/// Decoded audio, channels interleaved.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub channels: usize,
}

impl DecodedAudio {
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }

    pub fn duration_seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate.max(1))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Corrupt(String),
    /// A header declaring a sample rate or channel count that no recording has.
    #[error("{0}")]
    Implausible(String),
    #[error("audio is longer than {limit_seconds:.0} s")]
    TooLong { limit_seconds: f64 },
    #[error("resampling failed: {0}")]
    Resample(String),
}

/// What the audio stage measures.
#[derive(Clone)]
pub struct AudioMetrics {
    /// Reading the upload and decoding its container and codec
    /// (`whisper_audio_load_duration_seconds`).
    pub load_duration: Histogram,
    /// Downmixing and resampling to 16 kHz mono (`whisper_processing_duration_seconds`).
    pub resample_duration: Histogram,
}

impl AudioMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        Ok(Self {
            load_duration: register(
                registry,
                Histogram::with_opts(histogram(
                    names::AUDIO_LOAD_DURATION.name,
                    "Reading the upload and decoding its container and codec.",
                ))?,
            )?,
            resample_duration: register(
                registry,
                Histogram::with_opts(histogram(
                    names::PROCESSING_DURATION.name,
                    "Downmixing and resampling to 16 kHz mono.",
                ))?,
            )?,
        })
    }
}

/// An upload as the route read it, with the longest audio allowed.
pub struct Upload {
    pub bytes: Vec<u8>,
    /// How long reading the upload took: counted in the audio load time.
    pub read_time: Duration,
    pub max_seconds: f64,
}

/// Decodes and resamples an upload to whisper's input (16 kHz mono); blocking. Records the
/// audio-load and resampling histograms.
pub fn load(upload: Upload, metrics: &AudioMetrics) -> Result<Vec<f32>, AudioError> {
    let started = Instant::now();
    let decoded = decode::decode(upload.bytes, upload.max_seconds);
    metrics
        .load_duration
        .observe((upload.read_time + started.elapsed()).as_secs_f64());
    let decoded = decoded?;
    let started = Instant::now();
    let pcm = resample::to_whisper_input(decoded);
    metrics
        .resample_duration
        .observe(started.elapsed().as_secs_f64());
    pcm
}
