//! Container and codec decoding with symphonia (pure Rust).

use std::io::Cursor;

use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::{AudioError, DecodedAudio};

/// Decodes a whole upload held in memory. Stops with `TooLong` as soon as the audio passes
/// `max_seconds`, so a long file never fills memory.
pub fn decode(bytes: Vec<u8>, max_seconds: f64) -> Result<DecodedAudio, AudioError> {
    // symphonia can panic on hostile input (the audio_decode fuzz target found an overflowing
    // shift in its WAVE channel-mask repair): that is a corrupt file, not a failed request.
    std::panic::catch_unwind(move || decode_unguarded(bytes, max_seconds)).unwrap_or_else(|_| {
        Err(AudioError::Corrupt(
            "the audio decoder could not read this file".into(),
        ))
    })
}

fn decode_unguarded(bytes: Vec<u8>, max_seconds: f64) -> Result<DecodedAudio, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Corrupt("the file is empty".into()));
    }
    if let Some((rate, channels)) = super::riff_header::declared_shape(&bytes) {
        check_declared_shape(Some(rate), Some(channels))?;
    }
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => AudioError::Unsupported(
                "unrecognised audio container; send WAV, FLAC, MP3, Ogg Vorbis, MP4/M4A (AAC) or \
                 Matroska/WebM"
                    .into(),
            ),
            other => AudioError::Corrupt(other.to_string()),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::Unsupported("the file has no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::Unsupported("the audio track has no codec parameters".into()))?
        .clone();
    check_declared_shape(
        params.sample_rate,
        params.channels.as_ref().map(|c| c.count()),
    )?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|_| {
            AudioError::Unsupported(format!(
                "the audio codec ({}) is not supported; send PCM, FLAC, MP3, Vorbis or AAC",
                params.codec
            ))
        })?;

    let mut out = Collector::default();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(e) => return Err(stream_error(e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = decoder.decode(&packet).map_err(stream_error)?;
        out.push(buffer)?;
        if out.duration_seconds() > max_seconds {
            return Err(AudioError::TooLong {
                limit_seconds: max_seconds,
            });
        }
    }
    out.finish()
}

/// Sample rates and channel counts that real recordings use: telephony's 8 kHz down to a
/// little under it, studio rates up to 768 kHz, and up to 32 channels.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;
pub const MAX_CHANNELS: usize = 32;

/// Refuses a header whose sample rate or channel count no recording has. Such a file would
/// otherwise decode into a few samples stretched over hours, or hours squeezed into nothing.
pub fn check_declared_shape(
    sample_rate: Option<u32>,
    channels: Option<usize>,
) -> Result<(), AudioError> {
    if let Some(rate) = sample_rate.filter(|rate| !SAMPLE_RATES.contains(rate)) {
        return Err(AudioError::Implausible(format!(
            "the file says its sample rate is {rate} Hz; recordings use {} to {} Hz",
            SAMPLE_RATES.start(),
            SAMPLE_RATES.end()
        )));
    }
    if let Some(count) = channels.filter(|count| *count > MAX_CHANNELS) {
        return Err(AudioError::Implausible(format!(
            "the file says it has {count} channels; at most {MAX_CHANNELS} are accepted"
        )));
    }
    Ok(())
}

/// Maps an error in the middle of the stream. An early end of data means the file is shorter
/// than its headers say: truncated, or a header that lies.
fn stream_error(e: SymphoniaError) -> AudioError {
    match e {
        SymphoniaError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Corrupt("the audio data ends before its headers say it should".into())
        }
        SymphoniaError::Unsupported(what) => AudioError::Unsupported(what.into()),
        other => AudioError::Corrupt(other.to_string()),
    }
}

#[derive(Default)]
struct Collector {
    samples: Vec<f32>,
    spec: Option<(u32, usize)>,
}

impl Collector {
    fn push(&mut self, buffer: GenericAudioBufferRef<'_>) -> Result<(), AudioError> {
        let spec = (buffer.spec().rate(), buffer.spec().channels().count());
        match self.spec {
            None => {
                check_declared_shape(Some(spec.0), Some(spec.1))?;
                self.spec = Some(spec);
            }
            Some(seen) if seen != spec => {
                return Err(AudioError::Unsupported(
                    "sample rate or channel count changes within the stream".into(),
                ));
            }
            Some(_) => {}
        }
        let start = self.samples.len();
        self.samples
            .resize(start + buffer.samples_interleaved(), 0.0);
        buffer.copy_to_slice_interleaved(&mut self.samples[start..]);
        Ok(())
    }

    fn duration_seconds(&self) -> f64 {
        match self.spec {
            Some((rate, channels)) if rate > 0 && channels > 0 => {
                self.samples.len() as f64 / channels as f64 / f64::from(rate)
            }
            _ => 0.0,
        }
    }

    fn finish(self) -> Result<DecodedAudio, AudioError> {
        match self.spec {
            Some((sample_rate, channels))
                if sample_rate > 0 && channels > 0 && !self.samples.is_empty() =>
            {
                Ok(DecodedAudio {
                    samples: self.samples,
                    sample_rate,
                    channels,
                })
            }
            _ => Err(AudioError::Corrupt(
                "the file holds no audio samples".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal 16-bit PCM WAV file.
    fn wav(samples: &[i16], rate: u32, channels: u16, declared_data_len: Option<u32>) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        out.extend_from_slice(&(2 * channels).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&declared_data_len.unwrap_or(data_len).to_le_bytes());
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    #[test]
    fn decodes_stereo_pcm_wav() {
        let audio = decode(wav(&[0, 16384, -16384, 0], 8000, 2, None), 10.0);
        let audio = audio.expect("valid wav decodes");
        assert_eq!(
            (audio.sample_rate, audio.channels, audio.frames()),
            (8000, 2, 2)
        );
        assert!((audio.samples[1] - 0.5).abs() < 1e-3);
    }

    #[test]
    fn rejects_random_bytes_as_unsupported() {
        let bytes: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(matches!(
            decode(bytes, 10.0),
            Err(AudioError::Unsupported(_))
        ));
    }

    #[test]
    fn rejects_wav_longer_than_limit() {
        let samples = vec![0i16; 16_000];
        assert!(matches!(
            decode(wav(&samples, 8000, 1, None), 1.0),
            Err(AudioError::TooLong { .. })
        ));
    }

    #[test]
    fn a_decoder_panic_is_a_corrupt_file() {
        // Found by the audio_decode fuzz target: WAVE_FORMAT_EXTENSIBLE with 40 channels and an
        // empty channel mask made symphonia shift a u32 by 40 ("attempt to shift left with
        // overflow" where overflow checks are on). 40 is now refused before symphonia reads
        // the file; 32 channels, the most accepted, overflow the same shift.
        let mut file = wav(&[0; 32], 8000, 32, None);
        let fmt_at = 20;
        file[fmt_at..fmt_at + 2].copy_from_slice(&0xfffeu16.to_le_bytes());
        // Extend the fmt chunk from 16 to 40 bytes: cbSize 22, valid bits, mask 0, PCM GUID.
        file[16..20].copy_from_slice(&40u32.to_le_bytes());
        let mut extension = vec![22, 0, 16, 0, 0, 0, 0, 0];
        extension.extend_from_slice(&[
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
        ]);
        file.splice(36..36, extension);
        assert!(matches!(decode(file, 10.0), Err(AudioError::Corrupt(_))));
    }

    #[test]
    fn refuses_sample_rates_and_channel_counts_no_recording_has() {
        let refused = |rate, channels| match decode(wav(&[0; 64], rate, channels, None), 10.0) {
            Err(AudioError::Implausible(message)) => message,
            other => panic!("{rate} Hz, {channels} channels: {other:?}"),
        };
        assert!(refused(1, 1).contains("1 Hz"));
        assert!(refused(999, 1).contains("999 Hz"));
        assert!(refused(768_001, 1).contains("768001 Hz"));
        assert!(refused(16_000, 33).contains("33 channels"));
        // (symphonia's WAV reader takes up to 26 positioned channels without a channel mask.)
        for (rate, channels) in [(1_000, 1), (8_000, 2), (768_000, 1), (16_000, 26)] {
            let audio = decode(wav(&[0; 64], rate, channels, None), 10.0);
            assert!(audio.is_ok(), "{rate} Hz, {channels} channels: {audio:?}");
        }
    }

    #[test]
    fn rejects_empty_upload() {
        assert!(matches!(
            decode(Vec::new(), 1.0),
            Err(AudioError::Corrupt(_))
        ));
    }
}
