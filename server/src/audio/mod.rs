//! Audio input: any supported container/codec in, 16 kHz mono f32 out.

pub mod decode;
pub mod resample;

/// The sample rate whisper.cpp expects.
pub const WHISPER_SAMPLE_RATE: u32 = 16_000;

/// How long `samples` of whisper input (16 kHz mono) last, in seconds.
pub fn whisper_seconds(samples: usize) -> f64 {
    samples as f64 / f64::from(WHISPER_SAMPLE_RATE)
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
    #[error("audio is longer than {limit_seconds:.0} s")]
    TooLong { limit_seconds: f64 },
    #[error("resampling failed: {0}")]
    Resample(String),
}
