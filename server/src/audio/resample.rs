//! Downmix to mono and resample to 16 kHz with a band-limited FFT resampler (rubato).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::{AudioError, DecodedAudio, WHISPER_SAMPLE_RATE};

/// Frames per resampler chunk: large enough for efficiency, small enough to keep the delay short.
const CHUNK_FRAMES: usize = 1024;

/// Returns 16 kHz mono samples, the input whisper.cpp wants.
pub fn to_whisper_input(audio: DecodedAudio) -> Result<Vec<f32>, AudioError> {
    let mono = downmix(&audio.samples, audio.channels);
    if audio.sample_rate == WHISPER_SAMPLE_RATE {
        return Ok(mono);
    }
    resample(&mono, audio.sample_rate, WHISPER_SAMPLE_RATE)
}

/// Averages interleaved channels into one.
pub fn downmix(samples: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return samples.to_vec();
    }
    let scale = 1.0 / channels as f32;
    samples
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() * scale)
        .collect()
}

fn resample(mono: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    let err = |e: &dyn std::fmt::Display| AudioError::Resample(e.to_string());
    let mut resampler = Fft::<f32>::new(
        from as usize,
        to as usize,
        CHUNK_FRAMES,
        1,
        FixedSync::Input,
    )
    .map_err(|e| err(&e))?;
    let input = InterleavedSlice::new(mono, 1, mono.len()).map_err(|e| err(&e))?;
    let output = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|e| err(&e))?;
    Ok(output.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, seconds: f32) -> Vec<f32> {
        let n = (rate as f32 * seconds) as usize;
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    #[test]
    fn downmix_averages_channels() {
        assert_eq!(downmix(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
    }

    #[test]
    fn resamples_44k1_to_16k_keeping_length_and_level() -> Result<(), AudioError> {
        let input = sine(44_100, 440.0, 1.0);
        let out = to_whisper_input(DecodedAudio {
            samples: input,
            sample_rate: 44_100,
            channels: 1,
        })?;
        assert!((out.len() as i64 - 16_000).abs() <= 1, "len {}", out.len());
        let peak = out[2000..14000].iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.02, "peak {peak}");
        Ok(())
    }

    #[test]
    fn resamples_8k_stereo() -> Result<(), AudioError> {
        let mono = sine(8_000, 300.0, 0.5);
        let stereo: Vec<f32> = mono.iter().flat_map(|s| [*s, *s]).collect();
        let out = to_whisper_input(DecodedAudio {
            samples: stereo,
            sample_rate: 8_000,
            channels: 2,
        })?;
        assert!((out.len() as i64 - 8_000).abs() <= 1, "len {}", out.len());
        Ok(())
    }
}
