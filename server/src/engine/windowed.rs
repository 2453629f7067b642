//! Decoding long audio as independent 30 s windows spread over several whisper states.
//!
//! whisper.cpp decodes a long recording one window after another, each window's encoder and
//! decoder running on all threads. The decoder's small matrix products gain little from more
//! threads, so on the same cores two states with half the threads each finish sooner. Windows
//! are cut at pauses (`windows::plan`) and their transcripts joined with shifted times.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use whisper_rs::WhisperState;

use super::EngineError;
use super::params::{self, TranscribeOptions};
use super::transcript::{self, Transcript};
use crate::audio::whisper_seconds as seconds;

/// What decoding needs to know of the loaded model.
#[derive(Debug, Clone, Copy)]
pub struct ModelInfo {
    /// First special token (end of text): tokens at or past it are not text.
    pub eot: i32,
}

/// One whisper.cpp `full()` over `pcm` (which it windows itself, sequentially), with the
/// encoder's full 30 s context or `audio_ctx` frames of it (`fitted`).
pub fn decode(
    state: &mut WhisperState,
    model: ModelInfo,
    threads: usize,
    pcm: &[f32],
    options: &TranscribeOptions,
    abort: &AtomicBool,
    audio_ctx: Option<usize>,
) -> Result<Transcript, EngineError> {
    let mut params = params::full_params(options, threads, abort);
    if let Some(frames) = audio_ctx {
        params.set_audio_ctx(i32::try_from(frames).unwrap_or(0));
        // One greedy pass: when it fails, whisper.cpp would retry at rising temperatures, and
        // a fitted context that fails once keeps failing (seconds of sampled loops on a 2 s
        // clip). The guard in `fitted` sees the failure and the full context decodes instead.
        params.set_temperature_inc(0.0);
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

/// Decodes the `plan` windows of `pcm` (`windows::plan`), as many at a time as there are
/// `states`, the `threads` shared out between them; `decode_window` decodes one window on one
/// state with the given threads. Once `abort` is set, windows not yet started are skipped:
/// whisper.cpp would stop each of them only after its first encoder pass.
pub fn decode_windows<S: Send>(
    states: &mut [&mut S],
    threads: usize,
    pcm: &[f32],
    plan: &[Range<usize>],
    abort: &AtomicBool,
    decode_window: impl Fn(&mut S, usize, &[f32]) -> Result<Transcript, EngineError> + Sync,
) -> Result<Transcript, EngineError> {
    let workers = states.len().min(plan.len()).max(1);
    let shares = share(threads, workers);
    let decoded = run_in_parallel(
        &mut states[..workers],
        &shares,
        plan.len(),
        |state, t, i| {
            if abort.load(Ordering::Relaxed) {
                return Err(EngineError::Aborted);
            }
            decode_window(state, t, &pcm[plan[i].clone()])
        },
    );
    let mut parts = Vec::with_capacity(plan.len());
    for (window, result) in plan.iter().zip(decoded) {
        parts.push((seconds(window.start), result?));
    }
    Ok(Transcript::join(parts, seconds(pcm.len())))
}

/// `threads` split as evenly as possible between `workers` (earlier ones get the remainder),
/// at least one each.
pub fn share(threads: usize, workers: usize) -> Vec<usize> {
    let workers = workers.max(1);
    (0..workers)
        .map(|i| (threads / workers + usize::from(i < threads % workers)).max(1))
        .collect()
}

/// Runs jobs `0..jobs` on one scoped thread per worker, each worker taking the next job as it
/// finishes one; `work` gets the worker's item, its thread share and the job index. Results
/// come back in job order.
fn run_in_parallel<T: Send, R: Send>(
    workers: &mut [T],
    shares: &[usize],
    jobs: usize,
    work: impl Fn(&mut T, usize, usize) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs).map(|_| None).collect());
    std::thread::scope(|scope| {
        for (worker, &threads) in workers.iter_mut().zip(shares) {
            let (next, results, work) = (&next, &results, &work);
            scope.spawn(move || {
                loop {
                    let job = next.fetch_add(1, Ordering::Relaxed);
                    if job >= jobs {
                        break;
                    }
                    let result = work(worker, threads, job);
                    results.lock().unwrap_or_else(|p| p.into_inner())[job] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every job index below `jobs` is taken by exactly one worker"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_shared_out_evenly() {
        assert_eq!(share(2, 2), [1, 1]);
        assert_eq!(share(5, 2), [3, 2]);
        assert_eq!(share(1, 2), [1, 1]);
        assert_eq!(share(4, 0), [4]);
    }

    #[test]
    fn every_job_runs_once_and_results_keep_job_order() {
        let mut workers = vec![Vec::new(), Vec::new(), Vec::new()];
        let results = run_in_parallel(&mut workers, &[1, 1, 1], 10, |seen, _, job| {
            seen.push(job);
            job * 10
        });
        assert_eq!(results, (0..10).map(|j| j * 10).collect::<Vec<_>>());
        let mut all: Vec<usize> = workers.concat();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn windows_not_started_before_an_abort_are_skipped() {
        let abort = AtomicBool::new(false);
        let decoded = AtomicUsize::new(0);
        let (mut a, mut b) = ((), ());
        let mut states = [&mut a, &mut b];
        let pcm = vec![0.0; 10 * 16_000];
        let plan: Vec<_> = (0..10).map(|i| i * 16_000..(i + 1) * 16_000).collect();
        let result = decode_windows(&mut states, 2, &pcm, &plan, &abort, |_, _, _| {
            // The client hangs up during the first windows.
            decoded.fetch_add(1, Ordering::SeqCst);
            abort.store(true, Ordering::SeqCst);
            Err(EngineError::Aborted)
        });
        assert!(matches!(result, Err(EngineError::Aborted)));
        let decoded = decoded.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&decoded),
            "only the windows already running decode, got {decoded}"
        );
    }

    #[test]
    fn each_worker_runs_with_its_own_thread_share() {
        let mut workers = vec!['a', 'b'];
        let results = run_in_parallel(&mut workers, &[3, 1], 8, |name, threads, _| {
            (*name, threads)
        });
        for (name, threads) in results {
            assert_eq!(threads, if name == 'a' { 3 } else { 1 }, "worker {name}");
        }
    }
}
