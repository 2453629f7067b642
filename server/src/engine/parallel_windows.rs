//! Decoding long audio as independent windows spread over several workers (a whisper state
//! with its threads each).
//!
//! whisper.cpp decodes a long recording one window after another, each window's encoder and
//! decoder running on all threads. The decoder's small matrix products gain little from more
//! threads, so on the same cores two states with half the threads each finish sooner. Windows
//! are cut at pauses (`window_plan`) and their transcripts joined with shifted times.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::error::EngineError;
use super::transcript::Transcript;
use crate::audio::whisper_seconds as seconds;

/// How the workers decoding one request's windows may change between windows: a worker
/// beyond the first goes (its state and threads back to the server) while `release` says
/// another request waits, so a short request behind a long one waits for one window, not the
/// whole recording; `recruit` offers a new worker (a state and thread free now) while windows
/// are left that no worker has taken, so a request that started beside others speeds up once
/// they finish.
pub struct Staffing<'a, W> {
    pub release: &'a (dyn Fn() -> bool + Sync),
    pub recruit: &'a (dyn Fn() -> Option<W> + Sync),
}

impl<W> Staffing<'_, W> {
    /// The workers a request starts with, for all of it.
    pub fn fixed() -> Self {
        Staffing {
            release: &|| false,
            recruit: &|| None,
        }
    }
}

/// Decodes the `plan` windows of `pcm` (`window_plan`), one at a time on each of `workers`
/// (a whisper state with its threads), which may change as `staffing` says;
/// `decode_window` decodes one window on one worker, and `on_window` hears of each window
/// decoded (its index and transcript, times within the window) as soon as it is. Once `abort`
/// is set, windows not yet started are skipped: whisper.cpp would stop each of them only after
/// its first encoder pass.
pub fn decode_windows<W: Send>(
    workers: Vec<W>,
    pcm: &[f32],
    plan: &[Range<usize>],
    abort: &AtomicBool,
    staffing: &Staffing<'_, W>,
    decode_window: impl Fn(&mut W, &[f32]) -> Result<Transcript, EngineError> + Sync,
    on_window: &(dyn Fn(usize, &Transcript) + Sync),
) -> Result<Transcript, EngineError> {
    if workers.is_empty() {
        return Err(EngineError::Failed("no whisper state to decode on".into()));
    }
    // An aborted request would only skip the windows a new worker took.
    let recruit = || {
        if abort.load(Ordering::Relaxed) {
            return None;
        }
        (staffing.recruit)()
    };
    let staffing = Staffing {
        release: staffing.release,
        recruit: &recruit,
    };
    let decoded = run_jobs(workers, plan.len(), &staffing, |worker, i| {
        if abort.load(Ordering::Relaxed) {
            return Err(EngineError::Aborted);
        }
        let decoded = decode_window(worker, &pcm[plan[i].clone()]);
        if let Ok(part) = &decoded {
            on_window(i, part);
        }
        decoded
    });
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

/// Jobs `0..count` shared by the workers of `run_jobs`, each taking the next as it finishes one.
struct Jobs<'a, W, R, F> {
    count: usize,
    next: AtomicUsize,
    results: Mutex<Vec<Option<R>>>,
    staffing: &'a Staffing<'a, W>,
    work: F,
}

impl<W: Send, R: Send, F: Fn(&mut W, usize) -> R + Sync> Jobs<'_, W, R, F> {
    /// One worker's loop on its own scoped thread. The first worker never leaves, so every job
    /// runs; the others leave when `release` says so, before taking a job.
    fn work_on<'scope>(
        &'scope self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        mut worker: W,
        first: bool,
    ) where
        W: 'scope,
    {
        loop {
            if !first && (self.staffing.release)() {
                return;
            }
            let job = self.next.fetch_add(1, Ordering::AcqRel);
            if job >= self.count {
                return;
            }
            if job + 1 < self.count
                && let Some(recruit) = (self.staffing.recruit)()
            {
                scope.spawn(move || self.work_on(scope, recruit, false));
            }
            let result = (self.work)(&mut worker, job);
            self.results.lock().unwrap_or_else(|p| p.into_inner())[job] = Some(result);
        }
    }
}

/// Runs jobs `0..count` on one scoped thread per worker, each worker taking the next job as it
/// finishes one, and workers coming and going as `staffing` says; `work` gets the worker and
/// the job index. Results come back in job order.
fn run_jobs<W: Send, R: Send>(
    workers: Vec<W>,
    count: usize,
    staffing: &Staffing<'_, W>,
    work: impl Fn(&mut W, usize) -> R + Sync,
) -> Vec<R> {
    let jobs = Jobs {
        count,
        next: AtomicUsize::new(0),
        results: Mutex::new((0..count).map(|_| None).collect()),
        staffing,
        work,
    };
    std::thread::scope(|scope| {
        for (i, worker) in workers.into_iter().enumerate() {
            let jobs = &jobs;
            scope.spawn(move || jobs.work_on(scope, worker, i == 0));
        }
    });
    jobs.results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("the first worker stays until every job is taken, and each runs once"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn threads_are_shared_out_evenly() {
        assert_eq!(share(2, 2), [1, 1]);
        assert_eq!(share(5, 2), [3, 2]);
        assert_eq!(share(1, 2), [1, 1]);
        assert_eq!(share(4, 0), [4]);
    }

    /// Workers that note the jobs they ran.
    fn notebooks(count: usize) -> Vec<Mutex<Vec<usize>>> {
        (0..count).map(|_| Mutex::new(Vec::new())).collect()
    }

    fn sorted_jobs(notebooks: &[Mutex<Vec<usize>>]) -> Vec<usize> {
        let mut all: Vec<usize> = notebooks
            .iter()
            .flat_map(|n| n.lock().expect("not poisoned").clone())
            .collect();
        all.sort_unstable();
        all
    }

    #[test]
    fn every_job_runs_once_and_results_keep_job_order() {
        let books = notebooks(3);
        let results = run_jobs(
            books.iter().collect(),
            10,
            &Staffing::fixed(),
            |book, job| {
                book.lock().expect("not poisoned").push(job);
                job * 10
            },
        );
        assert_eq!(results, (0..10).map(|j| j * 10).collect::<Vec<_>>());
        assert_eq!(sorted_jobs(&books), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn released_workers_leave_and_the_first_finishes_every_job() {
        let books = notebooks(2);
        let staffing = Staffing {
            release: &|| true,
            recruit: &|| None,
        };
        run_jobs(books.iter().collect(), 6, &staffing, |book, job| {
            book.lock().expect("not poisoned").push(job)
        });
        assert_eq!(
            *books[0].lock().expect("not poisoned"),
            (0..6).collect::<Vec<_>>()
        );
        assert!(books[1].lock().expect("not poisoned").is_empty());
    }

    #[test]
    fn recruits_take_the_jobs_no_worker_has_taken() {
        let books = notebooks(2);
        let offered = AtomicUsize::new(0);
        let recruit = || (offered.fetch_add(1, Ordering::SeqCst) == 0).then_some(&books[1]);
        let staffing = Staffing {
            release: &|| false,
            recruit: &recruit,
        };
        run_jobs(vec![&books[0]], 4, &staffing, |book, job| {
            if job == 0 {
                // The first job ends only once the recruit has run one: the recruit must
                // have joined while it ran.
                let deadline = Instant::now() + Duration::from_secs(30);
                while books[1].lock().expect("not poisoned").is_empty() {
                    assert!(Instant::now() < deadline, "no recruit ran a job");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            book.lock().expect("not poisoned").push(job);
        });
        assert_eq!(sorted_jobs(&books), (0..4).collect::<Vec<_>>());
        assert!(!books[1].lock().expect("not poisoned").is_empty());
    }

    #[test]
    fn no_recruit_is_asked_for_when_no_job_is_left_for_it() {
        let asked = AtomicUsize::new(0);
        let recruit = || {
            asked.fetch_add(1, Ordering::SeqCst);
            None::<()>
        };
        let staffing = Staffing {
            release: &|| false,
            recruit: &recruit,
        };
        run_jobs(vec![()], 1, &staffing, |_, _| ());
        assert_eq!(asked.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn windows_not_started_before_an_abort_are_skipped() {
        let abort = AtomicBool::new(false);
        let decoded = AtomicUsize::new(0);
        let pcm = vec![0.0; 10 * 16_000];
        let plan: Vec<_> = (0..10).map(|i| i * 16_000..(i + 1) * 16_000).collect();
        let result = decode_windows(
            vec![(), ()],
            &pcm,
            &plan,
            &abort,
            &Staffing::fixed(),
            |_, _| {
                // The client hangs up during the first windows.
                decoded.fetch_add(1, Ordering::SeqCst);
                abort.store(true, Ordering::SeqCst);
                Err(EngineError::Aborted)
            },
            &|_, _| {},
        );
        assert!(matches!(result, Err(EngineError::Aborted)));
        let decoded = decoded.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&decoded),
            "only the windows already running decode, got {decoded}"
        );
    }
}
