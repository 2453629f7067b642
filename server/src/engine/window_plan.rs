//! How many windows a request's audio is cut into, and where: audio longer than whisper's 30 s
//! window is cut so the pieces can be decoded independently (and so in parallel,
//! `parallel_windows`), in windows of about 10 s; with fitted contexts, audio over about 15 s
//! is cut in two. Windows are balanced in length, each cut moved to the quietest moment near
//! its balanced position so no word is split.
//!
//! A request's plan is computed once (`WindowPolicy::plan`) and carried: staffing asks for as
//! many workers as it has windows, and decoding cuts exactly those windows.

use std::ops::Range;

use super::fitted;
use crate::audio::WHISPER_SAMPLE_RATE;

const RATE: usize = WHISPER_SAMPLE_RATE as usize;
/// whisper's encoder sees 30 s at a time.
pub const MAX_WINDOW_SAMPLES: usize = 30 * RATE;
/// Window length to aim for when windows of audio over 30 s decode with a fitted audio
/// context: the encoder's cost grows faster than its context (attention is quadratic in it) and
/// the decoder's cross attention reads all of it, so shorter windows cost less per second of
/// audio; 10 s beat 12 s and 20 s on the long benchmark clip at no cost in WER
/// (docs/benchmarks.md, "Windows of about 10 s").
pub const FITTED_TARGET_SAMPLES: usize = 10 * RATE;
/// Windows for audio that whisper sees at once but that is cut all the same (`WindowPolicy::
/// from_samples`): two, each at least half the threshold long; shorter windows cost more in
/// accuracy than they save (docs/benchmarks.md, run Y).
const SHORT_AUDIO_WINDOWS: usize = 2;
/// How far a cut may move from its balanced position to find a pause.
const SEARCH_SAMPLES: usize = 4 * RATE;
/// Energy is summed per 20 ms frame.
const FRAME_SAMPLES: usize = RATE / 50;
/// A pause is judged over 200 ms: shorter spans find gaps inside words.
const QUIET_FRAMES: usize = 10;
/// Spans quieter than about -70 dBFS count as equally silent, so that among several pauses the
/// one nearest the balanced point wins. Recordings joined with digital silence have gaps that
/// all sum to exactly zero, and the distance weighting cannot tell zeros apart: the first gap in
/// reach won, and windows came out uneven.
const SILENT_SPAN_ENERGY: f64 = 1e-7 * (QUIET_FRAMES * FRAME_SAMPLES) as f64;

/// What decides a request's windows; fixed for the engine's lifetime.
#[derive(Debug, Clone, Copy)]
pub struct WindowPolicy {
    /// Audio over 30 s is cut into windows for several workers (`--parallel-windows`).
    pub parallel: bool,
    /// Windows decode with fitted audio contexts (`--fit-audio-context`).
    pub fitted: bool,
    /// The most workers one request can decode on (`Scheduler::max_workers`).
    pub max_workers: usize,
    /// Fitted audio longer than this is cut in two, even under 30 s.
    pub from_samples: usize,
}

/// How one request's audio is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPlan {
    windows: usize,
    max_window: usize,
}

impl WindowPolicy {
    /// The window length to aim for and the longest allowed: with fitted contexts on, about
    /// 10 s (`FITTED_TARGET_SAMPLES`) and no more than a fitted context takes; otherwise 30 s,
    /// since each window then costs a whole encoder pass.
    fn lengths(&self) -> (usize, usize) {
        if self.fitted {
            (FITTED_TARGET_SAMPLES, fitted::max_clip_samples())
        } else {
            (MAX_WINDOW_SAMPLES, MAX_WINDOW_SAMPLES)
        }
    }

    /// The plan for `samples` of audio: one window (one whisper.cpp call) for audio whisper
    /// sees at once (two for fitted audio past `from_samples`), with parallel windows off, or
    /// when no request can hold two workers and nothing is fitted (whisper.cpp's own 30 s
    /// windows then run the full context anyway, and pass each window's text to the next as a
    /// prompt). Otherwise the count is a multiple of the most workers a request can decode on,
    /// whatever this one will hold: the same audio gets the same cuts (and so the same
    /// transcript) on a busy server as on an idle one, and a request on one worker runs the
    /// windows of the parallel plan in a row.
    pub fn plan(&self, samples: usize) -> WindowPlan {
        let (target, max_window) = self.lengths();
        let whisper_cpp_windows = !self.fitted && self.max_workers <= 1;
        let windows = if !self.parallel || whisper_cpp_windows {
            1
        } else if count(samples) > 1 {
            count_for_workers(samples, self.max_workers, target)
        } else if self.fitted && samples > self.from_samples {
            SHORT_AUDIO_WINDOWS
        } else {
            1
        };
        WindowPlan {
            windows,
            max_window,
        }
    }
}

impl WindowPlan {
    /// Windows planned: the most workers the request can use.
    pub fn windows(&self) -> usize {
        self.windows
    }

    /// Whether the audio decodes in one whisper.cpp call, as whisper.cpp does. Decided by the
    /// plan alone, never by the workers a request holds: a request on one worker beside
    /// others decodes the same windows as on an idle server, and so says the same.
    pub fn one_call(&self) -> bool {
        self.windows == 1
    }

    /// Where to cut `pcm`: the planned windows, more only where one would pass the longest
    /// window allowed; at one of `pauses` (sample indices, ascending) where one is in reach.
    pub fn cuts(&self, pcm: &[f32], pauses: &[usize]) -> Vec<Range<usize>> {
        plan(pcm, self.windows, self.max_window, pauses)
    }
}

/// Windows needed for `samples` of audio: whisper cannot see more than 30 s at once.
pub fn count(samples: usize) -> usize {
    samples.div_ceil(MAX_WINDOW_SAMPLES).max(1)
}

/// Windows of about `target` samples (at most 30 s) for `samples` decoded by `workers` at
/// once: a multiple of `workers`, so none of them idles while another decodes a last odd window.
pub fn count_for_workers(samples: usize, workers: usize, target: usize) -> usize {
    samples
        .div_ceil(target.clamp(1, MAX_WINDOW_SAMPLES))
        .max(1)
        .next_multiple_of(workers.max(1))
}

/// `windows` consecutive ranges covering all of `pcm` (at least as many as windows of
/// `max_window` samples need, at most 30 s each, and at most one per 20 ms). Each cut is at
/// the known pause (`pauses`, ascending sample indices: where a VAD found no speech) nearest
/// its balanced position, or failing one in reach, at the quietest moment near it.
pub fn plan(pcm: &[f32], windows: usize, max_window: usize, pauses: &[usize]) -> Vec<Range<usize>> {
    let max_window = max_window.clamp(QUIET_FRAMES * FRAME_SAMPLES, MAX_WINDOW_SAMPLES);
    let mut left = windows
        .max(pcm.len().div_ceil(max_window))
        .min(pcm.len() / FRAME_SAMPLES)
        .max(1);
    let mut planned = Vec::new();
    let mut start = 0;
    while left > 1 {
        let remaining = pcm.len() - start;
        let balanced_len = remaining / left;
        let balanced = start + balanced_len;
        // Stay within the middle of the balanced window, never cut so early that the rest
        // needs more than `left - 1` windows, nor past `max_window`.
        let reach = SEARCH_SAMPLES.min(balanced_len / 2);
        let earliest = (balanced - reach).max(pcm.len().saturating_sub((left - 1) * max_window));
        let latest = (balanced + reach).min(start + max_window);
        let cut = nearest_pause(pauses, earliest..latest, balanced)
            .or_else(|| quietest_point(pcm, earliest..latest, balanced))
            .unwrap_or(balanced);
        planned.push(start..cut);
        start = cut;
        left -= 1;
    }
    planned.push(start..pcm.len());
    planned
}

/// The pause inside `range` (exclusive of its ends) nearest `target`.
fn nearest_pause(pauses: &[usize], range: Range<usize>, target: usize) -> Option<usize> {
    let first = pauses.partition_point(|&p| p <= range.start);
    pauses[first..]
        .iter()
        .take_while(|&&p| p < range.end)
        .min_by_key(|&&p| p.abs_diff(target))
        .copied()
}

/// The middle of the quietest 200 ms span inside `range`, `None` when the range is too short
/// to hold one. A span's energy is weighed up to twice as it lies further from `target`: a real
/// pause is orders of magnitude quieter than speech and still wins, while speech without pauses
/// is cut near the balanced point instead of wherever the sums happen to dip. Pauses below
/// `SILENT_SPAN_ENERGY` are all as quiet, so the nearest of them wins.
fn quietest_point(pcm: &[f32], range: Range<usize>, target: usize) -> Option<usize> {
    let frame_energy: Vec<f64> = pcm[range.clone()]
        .chunks_exact(FRAME_SAMPLES)
        .map(|frame| frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum())
        .collect();
    if frame_energy.len() < QUIET_FRAMES {
        return None;
    }
    let middle = |first: usize| range.start + (first + QUIET_FRAMES / 2) * FRAME_SAMPLES;
    let weight = |first: usize| 1.0 + middle(first).abs_diff(target) as f64 / range.len() as f64;
    let mut span: f64 = frame_energy[..QUIET_FRAMES].iter().sum();
    let score = |span: f64, first: usize| span.max(SILENT_SPAN_ENERGY) * weight(first);
    let (mut best, mut best_score) = (0, score(span, 0));
    for first in 1..=frame_energy.len() - QUIET_FRAMES {
        span += frame_energy[first + QUIET_FRAMES - 1] - frame_energy[first - 1];
        let score = score(span, first);
        if score < best_score {
            (best, best_score) = (first, score);
        }
    }
    Some(middle(best))
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
        assert_eq!(plan(&pcm, 1, MAX_WINDOW_SAMPLES, &[]), vec![0..pcm.len()]);
        assert_eq!(plan(&[], 4, MAX_WINDOW_SAMPLES, &[]), vec![0..0]);
    }

    #[test]
    fn cuts_in_the_pause_nearest_the_balanced_point() {
        // 50 s: two windows, balanced at 25 s; the pause at 27 s is within reach, 35 s is not.
        let pcm = tone_with_gaps(50.0, &[27.0, 35.0]);
        let windows = plan(&pcm, 2, MAX_WINDOW_SAMPLES, &[]);
        assert_covers(&windows, pcm.len());
        assert_eq!(windows.len(), 2);
        let cut = windows[0].end as f64 / RATE as f64;
        assert!((cut - 27.0).abs() < 0.15, "cut at {cut} s");
    }

    #[test]
    fn among_digitally_silent_gaps_the_nearest_to_the_balanced_point_wins() {
        // 50 s, balanced at 25 s, three gaps of exact zeros in reach: 21.5 s, 24.2 s, 27 s.
        let pcm = tone_with_gaps(50.0, &[21.5, 24.2, 27.0]);
        let windows = plan(&pcm, 2, MAX_WINDOW_SAMPLES, &[]);
        assert_covers(&windows, pcm.len());
        let cut = windows[0].end as f64 / RATE as f64;
        assert!((cut - 24.2).abs() < 0.3, "cut at {cut} s");
        // Quiet noise in one gap instead of zeros is as silent as the others.
        let mut noisy = pcm.clone();
        for (i, s) in noisy[24 * RATE..(24 * RATE + RATE / 2)]
            .iter_mut()
            .enumerate()
        {
            *s = if i % 2 == 0 { 1e-5 } else { -1e-5 };
        }
        let windows = plan(&noisy, 2, MAX_WINDOW_SAMPLES, &[]);
        let cut = windows[0].end as f64 / RATE as f64;
        assert!((cut - 24.2).abs() < 0.3, "cut at {cut} s");
    }

    #[test]
    fn uses_as_few_windows_as_whisper_and_never_exceeds_30_s() {
        for seconds in [30.5, 59.0, 60.0, 61.0, 121.0, 300.0] {
            let pcm = tone_with_gaps(seconds, &[]);
            let windows = plan(&pcm, 1, MAX_WINDOW_SAMPLES, &[]);
            assert_covers(&windows, pcm.len());
            assert_eq!(windows.len(), count(pcm.len()), "{seconds} s");
        }
    }

    #[test]
    fn windows_come_in_multiples_of_the_workers_and_balance() {
        let max = MAX_WINDOW_SAMPLES;
        assert_eq!(count_for_workers(121 * RATE, 2, max), 6);
        assert_eq!(count_for_workers(35 * RATE, 2, max), 2);
        assert_eq!(count_for_workers(35 * RATE, 0, max), 2);
        let pcm = tone_with_gaps(121.0, &[]);
        let windows = plan(&pcm, count_for_workers(pcm.len(), 2, max), max, &[]);
        assert_covers(&windows, pcm.len());
        assert_eq!(windows.len(), 6);
        for w in &windows {
            let seconds = w.len() as f64 / RATE as f64;
            assert!((seconds - 121.0 / 6.0).abs() < 4.1, "window of {seconds} s");
        }
    }

    #[test]
    fn no_window_passes_the_given_maximum_even_for_a_pause() {
        // 40 s in two windows of at most 21.44 s: the pause at 22.5 s is within reach of the
        // balanced cut (20 s) but would leave a first window too long for a fitted context.
        let max = 343_040;
        let pcm = tone_with_gaps(40.0, &[22.5]);
        let windows = plan(&pcm, 2, max, &[]);
        assert_covers(&windows, pcm.len());
        assert_eq!(windows.len(), 2);
        assert!(windows.iter().all(|w| w.len() <= max), "{windows:?}");
        // Too few windows asked for: as many as the maximum needs.
        let long = tone_with_gaps(121.0, &[]);
        let windows = plan(&long, 2, max, &[]);
        assert_eq!(windows.len(), 6);
        assert!(windows.iter().all(|w| w.len() <= max), "{windows:?}");
    }

    #[test]
    fn a_shorter_target_gives_more_windows_in_multiples_of_the_workers() {
        assert_eq!(count_for_workers(121 * RATE, 2, 10 * RATE), 14);
        assert_eq!(count_for_workers(121 * RATE, 1, 10 * RATE), 13);
        assert_eq!(count_for_workers(35 * RATE, 2, 10 * RATE), 4);
        // Never fewer than 30 s windows need, whatever the target.
        assert_eq!(count_for_workers(121 * RATE, 1, 60 * RATE), 5);
    }

    #[test]
    fn more_windows_than_frames_is_capped() {
        assert_eq!(plan(&[0.0; 100], 8, MAX_WINDOW_SAMPLES, &[]), vec![0..100]);
        let three_frames = [0.0; 3 * FRAME_SAMPLES];
        let windows = plan(&three_frames, 8, MAX_WINDOW_SAMPLES, &[]);
        assert_covers(&windows, three_frames.len());
        assert_eq!(windows.len(), 3);
    }

    #[test]
    fn a_late_pause_cannot_force_an_extra_window() {
        // 59 s needs two windows; a cut before 29 s would leave more than 30 s.
        let pcm = tone_with_gaps(59.0, &[25.5]);
        let windows = plan(&pcm, 2, MAX_WINDOW_SAMPLES, &[]);
        assert_covers(&windows, pcm.len());
        assert_eq!(windows.len(), 2);
    }

    #[test]
    fn a_known_pause_in_reach_beats_the_quietest_moment() {
        // 50 s of tone with a silent gap at 23 s, and a VAD pause at 26.5 s: the VAD's wins.
        let pcm = tone_with_gaps(50.0, &[23.0]);
        let vad_pause = 26 * RATE + RATE / 2;
        let windows = plan(&pcm, 2, MAX_WINDOW_SAMPLES, &[RATE, vad_pause, 45 * RATE]);
        assert_covers(&windows, pcm.len());
        assert_eq!(windows[0].end, vad_pause);
        // Out of reach (more than 4 s from the balanced 25 s): the quietest moment again.
        let windows = plan(&pcm, 2, MAX_WINDOW_SAMPLES, &[RATE, 30 * RATE]);
        let cut = windows[0].end as f64 / RATE as f64;
        assert!((cut - 23.0).abs() < 0.15, "cut at {cut} s");
        // Never past the longest window allowed.
        let windows = plan(&pcm, 2, 20 * RATE, &[22 * RATE]);
        assert_covers(&windows, pcm.len());
        assert!(windows.iter().all(|w| w.len() <= 30 * RATE));
        assert!(windows[0].len() <= 20 * RATE);
    }

    fn policy(parallel: bool, fitted: bool) -> WindowPolicy {
        WindowPolicy {
            parallel,
            fitted,
            max_workers: 2,
            from_samples: MAX_WINDOW_SAMPLES,
        }
    }

    #[test]
    fn fitted_audio_past_the_threshold_is_cut_in_windows_even_under_30_s() {
        let from_15 = WindowPolicy {
            from_samples: 15 * RATE,
            ..policy(true, true)
        };
        assert!(
            from_15.plan(15 * RATE).one_call(),
            "at the threshold: whole"
        );
        let plan = from_15.plan(19 * RATE + RATE / 2);
        assert_eq!(plan.windows(), 2, "19.5 s: two windows of about 10 s");
        assert_eq!(from_15.plan(29 * RATE).windows(), 2, "two up to 30 s");
        let four_workers = WindowPolicy {
            max_workers: 4,
            ..from_15
        };
        assert_eq!(
            four_workers.plan(29 * RATE).windows(),
            2,
            "whatever the workers"
        );
        // Full contexts cost a whole encoder pass a window: short audio stays whole.
        let full = WindowPolicy {
            fitted: false,
            ..from_15
        };
        assert!(full.plan(29 * RATE).one_call());
        let off = WindowPolicy {
            parallel: false,
            ..from_15
        };
        assert!(off.plan(29 * RATE).one_call());
        // The windows are cut inside the pause (0.5 s of silence around 9 s).
        let pcm = tone_with_gaps(19.5, &[9.0]);
        let cuts = plan.cuts(&pcm, &[]);
        assert_covers(&cuts, pcm.len());
        let cut = cuts[0].end as f64 / RATE as f64;
        assert!((cut - 9.0).abs() < 0.25, "cut at {cut} s");
    }

    #[test]
    fn audio_whisper_sees_at_once_or_parallel_windows_off_is_one_window() {
        for parallel in [false, true] {
            for fitted in [false, true] {
                let plan = policy(parallel, fitted).plan(30 * RATE);
                assert_eq!(plan.windows(), 1, "parallel {parallel}, fitted {fitted}");
                assert!(plan.one_call());
            }
        }
        let sequential = policy(false, true).plan(121 * RATE);
        assert_eq!(sequential.windows(), 1);
        assert!(sequential.one_call(), "whisper.cpp windows it itself");
    }

    #[test]
    fn long_audio_is_planned_for_the_most_workers_whatever_a_request_holds() {
        assert_eq!(policy(true, false).plan(121 * RATE).windows(), 6);
        assert_eq!(policy(true, true).plan(121 * RATE).windows(), 14);
        let one_worker = WindowPolicy {
            max_workers: 1,
            ..policy(true, true)
        };
        assert_eq!(one_worker.plan(121 * RATE).windows(), 13);
    }

    #[test]
    fn whether_long_audio_is_one_call_depends_on_the_server_not_on_the_request() {
        // Two workers possible: windows, even for a request that will hold one.
        assert!(!policy(true, true).plan(121 * RATE).one_call());
        assert!(!policy(true, false).plan(121 * RATE).one_call());
        // One at most: fitted windows in a row, full ones as whisper.cpp windows them.
        let one_worker = |fitted| WindowPolicy {
            max_workers: 1,
            ..policy(true, fitted)
        };
        assert!(!one_worker(true).plan(121 * RATE).one_call());
        assert!(one_worker(false).plan(121 * RATE).one_call());
    }

    #[test]
    fn the_cuts_are_the_windows_staffing_was_planned_for() {
        let pcm = tone_with_gaps(121.0, &[]);
        for fitted in [false, true] {
            let plan = policy(true, fitted).plan(pcm.len());
            let cuts = plan.cuts(&pcm, &[]);
            assert_covers(&cuts, pcm.len());
            assert_eq!(cuts.len(), plan.windows(), "fitted {fitted}");
            let longest = if fitted {
                fitted::max_clip_samples()
            } else {
                MAX_WINDOW_SAMPLES
            };
            assert!(cuts.iter().all(|w| w.len() <= longest), "{cuts:?}");
        }
    }
}
