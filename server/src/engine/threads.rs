//! Per-request inference threads: never more, all requests together, than the CPU budget, and
//! never onto cores that other processes keep busy.
//!
//! A lone request on an idle machine gets the whole budget. Concurrent requests share it: each
//! waits for one thread, then takes what is free without waiting, up to its fair share of the
//! budget among the requests it found asking for threads when it came. So two requests on two
//! cores run with one thread each instead of oversubscribing, and keep doing so: a request that
//! waited for another does not take both threads the moment that one finishes, only for the
//! other client's next request to wait in turn (two-thread runs back to back, at about three
//! quarters of the throughput of one-thread runs side by side). When other processes keep cores
//! busy (see `cpu_load`), a request asks for fewer threads: ggml's spinning workers collapse
//! when one of them has no core.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus::IntGauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::cpu_load::CpuLoad;

/// Threads a new request should run: the budget, less the cores other processes keep busy,
/// at least one. A core counts as busy when more than half of it is used elsewhere.
pub fn wanted_threads(budget: usize, host_cpus: usize, foreign_cores: f64) -> usize {
    let free = (host_cpus as f64 - foreign_cores).round();
    let free = if free.is_finite() && free >= 1.0 {
        free as usize
    } else {
        1
    };
    free.clamp(1, budget.max(1))
}

/// Threads for a request that found `requests` asking for threads (itself included): `wanted`,
/// but no more than an even share of the budget, at least one.
pub fn fair_share(wanted: usize, budget: usize, requests: usize) -> usize {
    wanted.min(budget / requests.max(1)).max(1)
}

pub struct ThreadBudget {
    permits: Arc<Semaphore>,
    budget: usize,
    load: Option<CpuLoad>,
    in_use: IntGauge,
    /// Requests waiting for or holding threads.
    requests: Arc<AtomicUsize>,
    /// Requests waiting for their first thread.
    waiting: Arc<AtomicUsize>,
}

/// One request counted in `ThreadBudget::requests` (or `waiting`) until dropped, also when
/// its wait for threads is cancelled.
struct Presence(Arc<AtomicUsize>);

impl Presence {
    /// Counts a request in; returns it with the count, itself included.
    fn arrive(requests: &Arc<AtomicUsize>) -> (Self, usize) {
        let count = requests.fetch_add(1, Ordering::AcqRel) + 1;
        (Self(requests.clone()), count)
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Threads held by one inference, or by one of its whisper states; they go back to the budget
/// when dropped.
pub struct ThreadGrant {
    permit: OwnedSemaphorePermit,
    in_use: IntGauge,
    /// The request's count in `ThreadBudget::requests`: held by the grant `reserve` made, not
    /// by the parts split off it or added to it (`split`, `try_one`).
    _presence: Option<Presence>,
}

impl ThreadGrant {
    pub fn threads(&self) -> usize {
        self.permit.num_permits()
    }

    /// The grant cut into one part per entry of `shares` (`parallel_windows::share`), for states that
    /// give their threads back one by one; the first part keeps the request's presence and at
    /// least one thread (a grant holding fewer threads than the shares add up to leaves the
    /// later parts short).
    pub fn split(mut self, shares: &[usize]) -> Vec<ThreadGrant> {
        let mut parts = Vec::with_capacity(shares.len());
        for &share in shares.iter().skip(1).rev() {
            let taken = share.min(self.threads().saturating_sub(1));
            if let Some(permit) = self.permit.split(taken) {
                parts.push(ThreadGrant {
                    permit,
                    in_use: self.in_use.clone(),
                    _presence: None,
                });
            }
        }
        parts.push(self);
        parts.reverse();
        parts
    }

    /// Gives back threads beyond `threads` (at least one is kept).
    pub fn keep_at_most(&mut self, threads: usize) {
        let surplus = self.threads().saturating_sub(threads.max(1));
        if let Some(extra) = self.permit.split(surplus) {
            self.in_use.sub(surplus as i64);
            drop(extra);
        }
    }
}

impl Drop for ThreadGrant {
    fn drop(&mut self) {
        self.in_use.sub(self.threads() as i64);
    }
}

impl ThreadBudget {
    /// `load` is `None` to ignore other processes (fixed threads, as whisper.cpp does).
    pub fn new(budget: usize, load: Option<CpuLoad>, in_use: IntGauge) -> Self {
        let budget = budget.max(1);
        Self {
            permits: Arc::new(Semaphore::new(budget)),
            budget,
            load,
            in_use,
            requests: Arc::new(AtomicUsize::new(0)),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Whether a request waits for its first thread: a request decoding on several states
    /// then hands one back (`Scheduler::release`).
    pub fn has_waiters(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    /// One thread if one is free now and no request waits for it, whatever other processes
    /// do (as `top_up`): for a state a running request adds.
    pub fn try_one(&self) -> Option<ThreadGrant> {
        if self.has_waiters() {
            return None;
        }
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        self.in_use.inc();
        Some(ThreadGrant {
            permit,
            in_use: self.in_use.clone(),
            _presence: None,
        })
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Threads a request starting now should get, before counting other requests. Sensing the
    /// load reads /proc several times over about a millisecond, so it runs on the blocking
    /// pool: on a runtime worker it would stall every connection that worker serves.
    pub async fn wanted(&self) -> usize {
        let Some(load) = self.load.clone() else {
            return self.budget;
        };
        let budget = self.budget;
        tokio::task::spawn_blocking(move || {
            wanted_threads(budget, load.host_cpus(), load.foreign_cores())
        })
        .await
        // Only a runtime shutting down cancels it; the request is then going nowhere anyway.
        .unwrap_or(budget)
    }

    /// Waits for one thread, then takes up to `wanted()` of those free now, within its
    /// `fair_share` among the requests it found (or finds now) asking for threads. Waiters are
    /// served in arrival order, so a burst of requests spreads the budget instead of queueing
    /// behind one request that holds it all.
    pub async fn reserve(&self) -> ThreadGrant {
        let (presence, found) = Presence::arrive(&self.requests);
        let mut permit = {
            let _waiting = Presence::arrive(&self.waiting);
            match self.permits.clone().acquire_owned().await {
                Ok(permit) => permit,
                // The semaphore lives as long as `self` and is never closed.
                Err(_) => unreachable!("the thread budget's semaphore is never closed"),
            }
        };
        let requests = found.max(self.requests.load(Ordering::Acquire));
        let wanted = fair_share(self.wanted().await, self.budget, requests);
        while permit.num_permits() < wanted {
            match self.permits.clone().try_acquire_owned() {
                Ok(more) => permit.merge(more),
                Err(_) => break,
            }
        }
        self.in_use.add(permit.num_permits() as i64);
        ThreadGrant {
            permit,
            in_use: self.in_use.clone(),
            _presence: Some(presence),
        }
    }

    /// Adds threads free now to `grant`, up to `total`, whatever other processes do: for work
    /// split into single-threaded parts (windows on their own whisper states) a busy core
    /// only slows the part on it, where one graph's threads would all wait for it at every
    /// barrier. Beside one busy process on 2 cores, two single-threaded states get 4/3 of a
    /// core where one gets 1.
    pub fn top_up(&self, grant: &mut ThreadGrant, total: usize) {
        while grant.threads() < total.min(self.budget) {
            match self.permits.clone().try_acquire_owned() {
                Ok(more) => {
                    grant.permit.merge(more);
                    self.in_use.inc();
                }
                Err(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(threads: usize) -> ThreadBudget {
        let gauge = IntGauge::new("threads_in_use", "test").expect("valid gauge name");
        ThreadBudget::new(threads, None, gauge)
    }

    #[test]
    fn idle_host_gets_the_whole_budget() {
        assert_eq!(wanted_threads(2, 2, 0.0), 2);
        assert_eq!(wanted_threads(4, 64, 3.0), 4);
    }

    #[test]
    fn a_busy_core_elsewhere_costs_one_thread() {
        assert_eq!(wanted_threads(2, 2, 1.0), 1);
        assert_eq!(wanted_threads(2, 2, 0.6), 1);
        assert_eq!(wanted_threads(2, 2, 0.4), 2);
        assert_eq!(wanted_threads(8, 8, 3.0), 5);
    }

    #[test]
    fn never_below_one_thread() {
        assert_eq!(wanted_threads(2, 2, 2.0), 1);
        assert_eq!(wanted_threads(2, 2, f64::NAN), 1);
        assert_eq!(wanted_threads(0, 0, 0.0), 1);
    }

    #[tokio::test]
    async fn a_lone_request_takes_the_budget_and_gives_it_back() {
        let budget = budget(2);
        let grant = budget.reserve().await;
        assert_eq!(grant.threads(), 2);
        assert_eq!(budget.in_use.get(), 2);
        drop(grant);
        assert_eq!(budget.in_use.get(), 0);
        assert_eq!(budget.reserve().await.threads(), 2);
    }

    #[tokio::test]
    async fn top_up_takes_only_free_threads_within_the_budget() {
        let budget = budget(3);
        let mut first = budget.reserve().await;
        assert_eq!(first.threads(), 3);
        budget.top_up(&mut first, 8);
        assert_eq!(first.threads(), 3, "never past the budget");
        drop(first);
        let gauge = IntGauge::new("threads_in_use", "test").expect("valid gauge name");
        // A busy host: the load estimate is not sampled here, so emulate a one-thread grant
        // by holding two threads elsewhere.
        let budget = ThreadBudget::new(3, None, gauge);
        let held = budget
            .permits
            .clone()
            .try_acquire_many_owned(2)
            .expect("free");
        let mut grant = budget.reserve().await;
        assert_eq!(grant.threads(), 1);
        budget.top_up(&mut grant, 2);
        assert_eq!(grant.threads(), 1, "nothing free to add");
        drop(held);
        budget.top_up(&mut grant, 2);
        assert_eq!(grant.threads(), 2);
        assert_eq!(budget.in_use.get(), 2);
        drop(grant);
        assert_eq!(budget.in_use.get(), 0);
    }

    #[tokio::test]
    async fn a_grant_can_give_threads_back_but_keeps_one() {
        let budget = budget(4);
        let mut grant = budget.reserve().await;
        grant.keep_at_most(2);
        assert_eq!((grant.threads(), budget.in_use.get()), (2, 2));
        assert_eq!(budget.permits.available_permits(), 2);
        grant.keep_at_most(0);
        assert_eq!((grant.threads(), budget.in_use.get()), (1, 1));
        grant.keep_at_most(3);
        assert_eq!(grant.threads(), 1, "never grows");
    }

    #[tokio::test]
    async fn a_split_grant_gives_each_part_back_on_its_own() {
        let budget = budget(5);
        let grant = budget.reserve().await;
        let parts = grant.split(&[3, 2]);
        assert_eq!(
            parts.iter().map(ThreadGrant::threads).collect::<Vec<_>>(),
            [3, 2]
        );
        assert_eq!(budget.requests.load(Ordering::Acquire), 1);
        let mut parts = parts.into_iter();
        let first = parts.next().expect("two parts");
        drop(parts);
        assert_eq!(
            (budget.in_use.get(), budget.permits.available_permits()),
            (3, 2)
        );
        assert_eq!(
            budget.requests.load(Ordering::Acquire),
            1,
            "the first part keeps the request counted"
        );
        drop(first);
        assert_eq!(budget.requests.load(Ordering::Acquire), 0);
        assert_eq!(budget.in_use.get(), 0);
    }

    #[tokio::test]
    async fn a_short_grant_keeps_a_thread_for_its_first_part() {
        let budget = budget(1);
        let parts = budget.reserve().await.split(&[1, 1]);
        assert_eq!(
            parts.iter().map(ThreadGrant::threads).collect::<Vec<_>>(),
            [1, 0]
        );
    }

    #[tokio::test]
    async fn try_one_takes_a_free_thread_unless_a_request_waits() {
        let (budget, first, waiting) = one_running_one_waiting().await;
        assert!(budget.has_waiters());
        assert!(budget.try_one().is_none(), "none free");
        drop(first);
        assert_eq!(waiting.await.expect("joins"), 1);
        assert!(!budget.has_waiters());
        let one = budget.try_one().expect("both threads are free");
        assert_eq!((one.threads(), budget.in_use.get()), (1, 1));
        assert_eq!(
            budget.requests.load(Ordering::Acquire),
            0,
            "an added thread is not a request"
        );
    }

    #[test]
    fn the_share_splits_the_budget_between_the_requests_found() {
        assert_eq!(fair_share(2, 2, 1), 2);
        assert_eq!(fair_share(2, 2, 2), 1);
        assert_eq!(fair_share(1, 2, 1), 1, "never more than wanted");
        assert_eq!(fair_share(8, 8, 3), 2);
        assert_eq!(fair_share(2, 2, 5), 1, "at least one");
        assert_eq!(fair_share(2, 2, 0), 2);
    }

    /// A budget of 2 held by a first request, and a second request waiting for threads.
    async fn one_running_one_waiting() -> (
        Arc<ThreadBudget>,
        ThreadGrant,
        tokio::task::JoinHandle<usize>,
    ) {
        let budget = Arc::new(budget(2));
        let first = budget.reserve().await;
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve().await.threads() })
        };
        tokio::task::yield_now().await;
        (budget, first, waiting)
    }

    #[tokio::test]
    async fn a_request_that_waited_takes_its_share_not_the_freed_budget() {
        let (budget, first, waiting) = one_running_one_waiting().await;
        assert!(
            !waiting.is_finished(),
            "no thread is free while the first holds both"
        );
        drop(first);
        // Both threads are free now, but it came while another request ran: that request's
        // client is likely to send the next one.
        assert_eq!(waiting.await.expect("joins"), 1);
        // Alone again: the whole budget.
        assert_eq!(budget.reserve().await.threads(), 2);
    }

    #[tokio::test]
    async fn a_cancelled_wait_is_no_longer_counted() {
        let (budget, first, waiting) = one_running_one_waiting().await;
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(budget.requests.load(Ordering::Acquire), 1);
        drop(first);
        assert_eq!(budget.requests.load(Ordering::Acquire), 0);
        assert_eq!(budget.reserve().await.threads(), 2);
    }

    #[tokio::test]
    async fn two_waiters_split_the_budget() {
        let budget = Arc::new(budget(2));
        let first = budget.reserve().await;
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let budget = budget.clone();
                tokio::spawn(async move {
                    let grant = budget.reserve().await;
                    let threads = grant.threads();
                    // Hold the grant until both have theirs.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    threads
                })
            })
            .collect();
        tokio::task::yield_now().await;
        drop(first);
        let mut got = Vec::new();
        for waiter in waiters {
            got.push(waiter.await.expect("joins"));
        }
        assert_eq!(got, vec![1, 1]);
    }
}
