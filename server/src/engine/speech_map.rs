//! A recording with its non-speech taken out, and the way back: the stretches of speech a VAD
//! found are packed one after another (with a short silence between, so words on either side
//! stay apart), the packed audio is decoded, and every time in its transcript is moved back to
//! where it was said in the recording.

use std::ops::Range;

use super::transcript::{Segment, Transcript, Word};
use crate::audio::{WHISPER_SAMPLE_RATE, whisper_samples, whisper_seconds};

/// Silence put between two stretches of speech: 100 ms, as whisper.cpp's own VAD path leaves.
pub const GAP_SAMPLES: usize = WHISPER_SAMPLE_RATE as usize / 10;

/// Where each stretch of speech lies in the recording and in the packed audio.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechMap {
    pieces: Vec<Piece>,
    recording_len: usize,
    /// Samples of padding the VAD put around each stretch's speech: a piece's first and last
    /// `padding` samples are the pause around it.
    padding: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct Piece {
    recording: Range<usize>,
    packed_start: usize,
}

impl SpeechMap {
    /// The map of `speech` (sample ranges of a recording of `recording_len` samples, each with
    /// `padding` samples of the pause around it), which may come unordered or overlapping:
    /// they are clamped, sorted and merged.
    pub fn new(speech: &[Range<usize>], recording_len: usize, padding: usize) -> Self {
        let mut ranges: Vec<Range<usize>> = speech
            .iter()
            .map(|r| r.start.min(recording_len)..r.end.min(recording_len))
            .filter(|r| !r.is_empty())
            .collect();
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        let mut packed_start = 0;
        let pieces = merged
            .into_iter()
            .map(|recording| {
                let piece = Piece {
                    packed_start,
                    recording: recording.clone(),
                };
                packed_start += recording.len() + GAP_SAMPLES;
                piece
            })
            .collect();
        Self {
            pieces,
            recording_len,
            padding,
        }
    }

    /// No speech was found: there is nothing to decode.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Samples of speech kept, out of the recording's.
    pub fn speech_samples(&self) -> usize {
        self.pieces.iter().map(|p| p.recording.len()).sum()
    }

    /// The speech of `recording`, packed: each stretch, then a gap of silence before the next.
    pub fn pack(&self, recording: &[f32]) -> Vec<f32> {
        let mut packed =
            Vec::with_capacity(self.speech_samples() + self.pieces.len() * GAP_SAMPLES);
        for (index, piece) in self.pieces.iter().enumerate() {
            if index > 0 {
                packed.resize(packed.len() + GAP_SAMPLES, 0.0);
            }
            let end = piece.recording.end.min(recording.len());
            packed.extend_from_slice(&recording[piece.recording.start.min(end)..end]);
        }
        packed
    }

    /// Where the packed audio changes from one stretch of speech to the next (the middle of
    /// each gap): pauses the VAD found, the best places to cut windows.
    pub fn pauses(&self) -> Vec<usize> {
        self.pieces
            .iter()
            .skip(1)
            .map(|p| p.packed_start - GAP_SAMPLES / 2)
            .collect()
    }

    /// Where in the recording a segment or word that starts at `packed_seconds` starts. One
    /// that starts in the pause after a stretch (its padding, or the gap) starts with the next.
    pub fn recording_start(&self, packed_seconds: f64) -> f64 {
        let (index, into) = self.locate(packed_seconds);
        let Some(piece) = self.pieces.get(index) else {
            return 0.0;
        };
        match self.pieces.get(index + 1) {
            Some(next) if into + self.padding >= piece.recording.len() => {
                whisper_seconds(next.recording.start)
            }
            _ => whisper_seconds(piece.recording.start + into.min(piece.recording.len())),
        }
    }

    /// Where in the recording a segment or word that ends at `packed_seconds` ends. One that
    /// ends in the pause before a stretch (the gap, or its padding) ends with the one before.
    pub fn recording_end(&self, packed_seconds: f64) -> f64 {
        let (index, into) = self.locate(packed_seconds);
        let Some(piece) = self.pieces.get(index) else {
            return 0.0;
        };
        match index
            .checked_sub(1)
            .and_then(|before| self.pieces.get(before))
        {
            Some(before) if into <= self.padding => whisper_seconds(before.recording.end),
            _ => whisper_seconds(piece.recording.start + into.min(piece.recording.len())),
        }
    }

    /// The piece a packed time falls in, and how far into it (samples): a time in a gap falls
    /// past the end of the piece before the gap, or (for `recording_end`) before the next.
    fn locate(&self, packed_seconds: f64) -> (usize, usize) {
        let sample = whisper_samples(packed_seconds);
        let index = self
            .pieces
            .partition_point(|p| p.packed_start <= sample)
            .saturating_sub(1);
        let into = self
            .pieces
            .get(index)
            .map_or(0, |p| sample.saturating_sub(p.packed_start));
        (index, into)
    }

    /// `packed`'s transcript on the recording's timeline, with the recording's duration.
    pub fn restore(&self, packed: Transcript) -> Transcript {
        let span = |start: f64, end: f64| {
            let start = self.recording_start(start);
            (start, self.recording_end(end).max(start))
        };
        Transcript {
            duration: whisper_seconds(self.recording_len),
            segments: packed
                .segments
                .into_iter()
                .map(|segment| {
                    let (start, end) = span(segment.start, segment.end);
                    Segment {
                        start,
                        end,
                        ..segment
                    }
                })
                .collect(),
            words: packed
                .words
                .into_iter()
                .map(|word| {
                    let (start, end) = span(word.start, word.end);
                    Word { start, end, ..word }
                })
                .collect(),
            ..packed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: usize = WHISPER_SAMPLE_RATE as usize;

    fn seconds(s: f64) -> usize {
        (s * RATE as f64) as usize
    }

    #[test]
    fn speech_is_packed_with_a_gap_between_stretches() {
        let recording: Vec<f32> = (0..seconds(10.0)).map(|i| i as f32).collect();
        let map = SpeechMap::new(
            &[seconds(1.0)..seconds(2.0), seconds(5.0)..seconds(5.5)],
            recording.len(),
            0,
        );
        let packed = map.pack(&recording);
        assert_eq!(packed.len(), seconds(1.5) + GAP_SAMPLES);
        assert_eq!(packed[0], seconds(1.0) as f32);
        assert!(
            packed[seconds(1.0)..seconds(1.0) + GAP_SAMPLES]
                .iter()
                .all(|&s| s == 0.0)
        );
        assert_eq!(packed[seconds(1.0) + GAP_SAMPLES], seconds(5.0) as f32);
        assert_eq!(map.pauses(), vec![seconds(1.0) + GAP_SAMPLES / 2]);
        assert_eq!(map.speech_samples(), seconds(1.5));
    }

    #[test]
    fn packed_times_go_back_to_where_they_were_said() {
        // Two stretches of 1 s, each with 0.25 s of padding at either end.
        let map = SpeechMap::new(
            &[seconds(1.0)..seconds(2.0), seconds(5.0)..seconds(6.0)],
            seconds(10.0),
            seconds(0.25),
        );
        let second = whisper_seconds(seconds(1.0) + GAP_SAMPLES);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(map.recording_start(0.0), 1.0));
        assert!(close(map.recording_start(0.5), 1.5));
        assert!(close(map.recording_end(0.5), 1.5));
        // A start in the first stretch's trailing padding or in the gap: the next stretch.
        assert!(close(map.recording_start(0.9), 5.0));
        assert!(close(map.recording_start(1.05), 5.0));
        // An end in the gap or in the next stretch's leading padding: the first stretch's end.
        assert!(close(map.recording_end(1.05), 2.0));
        assert!(close(map.recording_end(second + 0.2), 2.0));
        assert!(close(map.recording_end(second + 0.5), 5.5));
        assert!(close(map.recording_start(second + 0.25), 5.25));
        // Past the end: the end of the last stretch.
        assert!(close(map.recording_end(99.0), 6.0));
        assert!(close(map.recording_start(99.0), 6.0));
    }

    #[test]
    fn overlapping_unordered_and_out_of_range_stretches_are_merged_and_clamped() {
        let map = SpeechMap::new(
            &[
                seconds(4.0)..seconds(12.0),
                seconds(1.0)..seconds(3.0),
                seconds(2.0)..seconds(4.5),
                5..5,
            ],
            seconds(10.0),
            0,
        );
        assert_eq!(map.pieces.len(), 1);
        assert_eq!(map.pieces[0].recording, seconds(1.0)..seconds(10.0));
        assert!(map.pauses().is_empty());
        assert!(SpeechMap::new(&[], 100, 0).is_empty());
        let beyond = std::iter::once(200..300).collect::<Vec<_>>();
        assert!(SpeechMap::new(&beyond[..], 100, 0).is_empty());
    }

    #[test]
    fn a_transcript_moves_onto_the_recording_timeline() {
        let map = SpeechMap::new(
            &[seconds(3.0)..seconds(4.0), seconds(8.0)..seconds(9.0)],
            seconds(12.0),
            seconds(0.2),
        );
        let second_start = whisper_seconds(seconds(1.0) + GAP_SAMPLES);
        let segment = |start: f64, end: f64| Segment {
            id: 0,
            start,
            end,
            text: " x".into(),
            tokens: vec![],
            avg_logprob: 0.0,
            no_speech_prob: 0.0,
            logprobs: vec![],
        };
        let packed = Transcript {
            language: "english".into(),
            duration: 2.1,
            // As whisper often times them: the first ends where the second starts, here in the
            // second stretch's padding.
            segments: vec![
                segment(0.0, second_start + 0.1),
                segment(second_start + 0.1, second_start + 1.0),
            ],
            words: vec![Word {
                word: "x".into(),
                start: second_start + 0.5,
                end: second_start + 0.75,
            }],
        };
        let restored = map.restore(packed);
        assert!((restored.duration - 12.0).abs() < 1e-9);
        let times: Vec<(f64, f64)> = restored.segments.iter().map(|s| (s.start, s.end)).collect();
        for ((start, end), expected) in times.iter().zip([(3.0, 4.0), (8.1, 9.0)]) {
            assert!(
                (start - expected.0).abs() < 1e-9 && (end - expected.1).abs() < 1e-9,
                "{times:?}"
            );
        }
        assert!((restored.words[0].start - 8.5).abs() < 1e-9);
        assert_eq!(restored.text(), "x x");
    }
}
