//! Where to cut audio longer than whisper's 30 s window so the pieces can be decoded
//! independently (and so in parallel): as few windows as whisper itself needs, balanced in
//! length, each cut moved to the quietest moment near its balanced position so no word is split.

use std::ops::Range;

use crate::audio::WHISPER_SAMPLE_RATE;

const RATE: usize = WHISPER_SAMPLE_RATE as usize;
/// whisper's encoder sees 30 s at a time.
pub const MAX_WINDOW_SAMPLES: usize = 30 * RATE;
/// How far a cut may move from its balanced position to find a pause.
const SEARCH_SAMPLES: usize = 4 * RATE;
/// Energy is summed per 20 ms frame.
const FRAME_SAMPLES: usize = RATE / 50;
/// A pause is judged over 200 ms: shorter spans find gaps inside words.
const QUIET_FRAMES: usize = 10;

/// Windows needed for `samples` of audio: whisper cannot see more than 30 s at once.
pub fn count(samples: usize) -> usize {
    samples.div_ceil(MAX_WINDOW_SAMPLES).max(1)
}

/// Consecutive ranges covering all of `pcm`, each at most 30 s, `count(pcm.len())` of them.
pub fn plan(pcm: &[f32]) -> Vec<Range<usize>> {
    let mut windows = Vec::new();
    let mut start = 0;
    while pcm.len() - start > MAX_WINDOW_SAMPLES {
        let remaining = pcm.len() - start;
        let left = count(remaining);
        let balanced = start + remaining / left;
        // Never cut so early that the rest needs more than `left - 1` windows, nor past 30 s.
        let earliest = (balanced.saturating_sub(SEARCH_SAMPLES))
            .max(start + remaining - (left - 1) * MAX_WINDOW_SAMPLES);
        let latest = (balanced + SEARCH_SAMPLES).min(start + MAX_WINDOW_SAMPLES);
        let cut = quietest_point(pcm, earliest..latest);
        windows.push(start..cut);
        start = cut;
    }
    windows.push(start..pcm.len());
    windows
}

/// The middle of the 200 ms span with the least energy inside `range` (its start when the
/// range is too short to hold one).
fn quietest_point(pcm: &[f32], range: Range<usize>) -> usize {
    let frame_energy: Vec<f32> = pcm[range.clone()]
        .chunks_exact(FRAME_SAMPLES)
        .map(|frame| frame.iter().map(|s| s * s).sum())
        .collect();
    if frame_energy.len() < QUIET_FRAMES {
        return range.start;
    }
    let mut span: f32 = frame_energy[..QUIET_FRAMES].iter().sum();
    let (mut best, mut best_energy) = (0, span);
    for first in 1..=frame_energy.len() - QUIET_FRAMES {
        span += frame_energy[first + QUIET_FRAMES - 1] - frame_energy[first - 1];
        if span < best_energy {
            (best, best_energy) = (first, span);
        }
    }
    range.start + (best + QUIET_FRAMES / 2) * FRAME_SAMPLES
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A steady tone (speech stand-in) with silent gaps at the given seconds.
    fn tone_with_gaps(seconds: f64, gaps: &[f64]) -> Vec<f32> {
        let len = (seconds * RATE as f64) as usize;
        (0..len)
            .map(|i| {
                let t = i as f64 / RATE as f64;
                let silent = gaps.iter().any(|g| (t - g).abs() < 0.25);
                if silent {
                    0.0
                } else {
                    (t * 440.0 * std::f64::consts::TAU).sin() as f32 * 0.5
                }
            })
            .collect()
    }

    fn assert_covers(windows: &[Range<usize>], len: usize) {
        assert_eq!(windows.first().map(|w| w.start), Some(0));
        assert_eq!(windows.last().map(|w| w.end), Some(len));
        for pair in windows.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "windows must be contiguous");
        }
        for w in windows {
            assert!(
                w.len() <= MAX_WINDOW_SAMPLES,
                "window of {} samples",
                w.len()
            );
            assert!(!w.is_empty());
        }
    }

    #[test]
    fn short_audio_is_one_window() {
        let pcm = vec![0.1; 10 * RATE];
        assert_eq!(plan(&pcm), vec![0..pcm.len()]);
        assert_eq!(plan(&[]), vec![0..0]);
    }

    #[test]
    fn cuts_in_the_pause_nearest_the_balanced_point() {
        // 50 s: two windows, balanced at 25 s; the pause at 27 s is within reach, 35 s is not.
        let pcm = tone_with_gaps(50.0, &[27.0, 35.0]);
        let windows = plan(&pcm);
        assert_covers(&windows, pcm.len());
        assert_eq!(windows.len(), 2);
        let cut = windows[0].end as f64 / RATE as f64;
        assert!((cut - 27.0).abs() < 0.15, "cut at {cut} s");
    }

    #[test]
    fn uses_as_few_windows_as_whisper_and_never_exceeds_30_s() {
        for seconds in [30.5, 59.0, 60.0, 61.0, 121.0, 300.0] {
            let pcm = tone_with_gaps(seconds, &[]);
            let windows = plan(&pcm);
            assert_covers(&windows, pcm.len());
            assert_eq!(windows.len(), count(pcm.len()), "{seconds} s");
        }
    }

    #[test]
    fn a_late_pause_cannot_force_an_extra_window() {
        // 59 s needs two windows; a cut before 29 s would leave more than 30 s.
        let pcm = tone_with_gaps(59.0, &[25.5]);
        let windows = plan(&pcm);
        assert_covers(&windows, pcm.len());
        assert_eq!(windows.len(), 2);
    }
}
