//! Scheduling policy, in one place: who is admitted, who gets a slot, how many workers (slots
//! with threads) a request decodes on, and when those change between windows. The pool
//! (`pool`) and the thread budget (`threads`) only count; every decision that combines them is
//! made here.
//!
//! Generic over the pooled state, so the policy is tested below without a model.

use std::sync::Arc;

use prometheus::IntCounterVec;

use super::error::{EngineError, InferError};
use super::parallel_windows;
use super::pool::{Pool, Slot, Ticket};
use super::threads::{ThreadBudget, ThreadGrant};
use super::worker::Worker;

/// How a request decoding windows changed the workers it holds (`Scheduler::release`,
/// `Scheduler::recruit`), counted in `whisper_window_states_total{change}`.
#[derive(Debug, Clone, Copy)]
pub enum StateChange {
    Released,
    Recruited,
}

impl StateChange {
    pub const ALL: [StateChange; 2] = [StateChange::Released, StateChange::Recruited];

    pub fn label(self) -> &'static str {
        match self {
            StateChange::Released => "released",
            StateChange::Recruited => "recruited",
        }
    }
}

pub struct Scheduler<S> {
    pool: Arc<Pool<S>>,
    threads: ThreadBudget,
    /// `whisper_window_states_total`, by `StateChange`.
    state_changes: IntCounterVec,
}

impl<S> Scheduler<S> {
    pub fn new(pool: Pool<S>, threads: ThreadBudget, state_changes: IntCounterVec) -> Self {
        Self {
            pool: Arc::new(pool),
            threads,
            state_changes,
        }
    }

    pub fn slots(&self) -> usize {
        self.pool.slots()
    }

    pub fn threads(&self) -> &ThreadBudget {
        &self.threads
    }

    /// The most workers one request can decode on: one thread each at least.
    pub fn max_workers(&self) -> usize {
        self.pool.slots().min(self.threads.budget())
    }

    /// Admission: a place in the wait queue, or `QueueFull` at once, with a Retry-After hint
    /// of one second per round of slots ahead of the request.
    pub fn admit(&self) -> Result<Ticket<S>, InferError> {
        self.pool.enter().map_err(|full| InferError::QueueFull {
            retry_after_secs: 1 + (full.waiting / self.pool.slots().max(1)) as u64,
        })
    }

    /// Seating: waits for the request's first slot. Dropping the future leaves the queue.
    pub async fn seat(&self, ticket: Ticket<S>) -> Result<Slot<S>, EngineError> {
        ticket
            .acquire()
            .await
            .map_err(|e| EngineError::Failed(e.to_string()))
    }

    /// Staffing: the workers a request with `windows` planned windows starts decoding on, its
    /// `first` slot among them. It waits for threads (`ThreadBudget::reserve`), then long audio
    /// takes more slots when some are free now (never waiting for them), one thread each at
    /// least: threads beyond the grant are added even beside busy processes, since
    /// single-threaded states do not stall each other (`ThreadBudget::top_up`). While another
    /// request holds a slot, it runs or waits for threads: a state gains less from a second
    /// thread than that request gains from running now, so the grant keeps one thread per
    /// state. The workers may change while its windows decode (`release`, `recruit`).
    pub async fn staff(&self, first: Slot<S>, windows: usize) -> Vec<Worker<S>> {
        let threads = self.threads.reserve().await;
        self.gather(first, threads, windows)
    }

    fn gather(&self, first: Slot<S>, mut threads: ThreadGrant, windows: usize) -> Vec<Worker<S>> {
        let wanted = windows.min(self.threads.budget());
        let mut slots = vec![first];
        while slots.len() < wanted {
            match self.pool.try_slot() {
                Some(extra) => slots.push(extra),
                None => break,
            }
        }
        self.threads.top_up(&mut threads, slots.len());
        slots.truncate(threads.threads());
        if self.pool.others_hold_slots(slots.len()) {
            threads.keep_at_most(slots.len());
        }
        let shares = parallel_windows::share(threads.threads(), slots.len());
        slots
            .into_iter()
            .zip(threads.split(&shares))
            .map(|(slot, threads)| Worker::new(slot, threads))
            .collect()
    }

    /// Whether another request waits for a slot or a thread: then a request decoding windows
    /// gives back a worker (not its first) between two windows, so the wait lasts one window.
    fn others_wait(&self) -> bool {
        self.pool.has_unserved_waiters() || self.threads.has_waiters()
    }

    /// Whether a worker beyond a request's first should go now (`others_wait`); counted when it
    /// does.
    pub fn release(&self) -> bool {
        let release = self.others_wait();
        if release {
            self.count(StateChange::Released);
        }
        release
    }

    /// A new worker from a slot and a thread free now, while no request waits: a request that
    /// started beside others takes them on once those finish.
    pub fn recruit(&self) -> Option<Worker<S>> {
        if self.others_wait() {
            return None;
        }
        let slot = self.pool.try_slot()?;
        let threads = self.threads.try_one()?;
        self.count(StateChange::Recruited);
        Some(Worker::new(slot, threads))
    }

    fn count(&self, change: StateChange) {
        self.state_changes
            .with_label_values(&[change.label()])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use prometheus::{IntGauge, Opts};

    use super::*;
    use crate::engine::pool::PoolGauges;

    fn gauge() -> IntGauge {
        IntGauge::new("gauge", "test").expect("valid gauge name")
    }

    /// A scheduler over `slots` model-free states (their numbers), `threads` threads and a
    /// wait queue of `queue`.
    fn scheduler(slots: usize, threads: usize, queue: usize) -> Scheduler<usize> {
        let pool = Pool::new(
            (0..slots).collect(),
            queue,
            PoolGauges {
                queue_depth: gauge(),
                inflight: gauge(),
                busy_slots: gauge(),
            },
        );
        let changes =
            IntCounterVec::new(Opts::new("changes", "test"), &["change"]).expect("valid counter");
        Scheduler::new(pool, ThreadBudget::new(threads, None, gauge()), changes)
    }

    async fn first_slot(scheduler: &Scheduler<usize>) -> Slot<usize> {
        let ticket = scheduler.admit().expect("admitted");
        scheduler.seat(ticket).await.expect("seated")
    }

    fn threads_of(workers: &[Worker<usize>]) -> Vec<usize> {
        workers.iter().map(Worker::threads).collect()
    }

    fn changes(scheduler: &Scheduler<usize>, change: StateChange) -> u64 {
        scheduler
            .state_changes
            .with_label_values(&[change.label()])
            .get()
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_with_a_retry_hint_per_round_of_slots() {
        let scheduler = scheduler(2, 2, 3);
        let _seated = first_slot(&scheduler).await;
        let _queued: Vec<_> = (0..4)
            .map(|_| scheduler.admit().expect("a free slot and three places"))
            .collect();
        match scheduler.admit() {
            Err(InferError::QueueFull { retry_after_secs }) => assert_eq!(retry_after_secs, 3),
            other => panic!("expected QueueFull, got {:?}", other.map(|_| ())),
        }
    }

    #[tokio::test]
    async fn a_short_clip_on_an_idle_server_gets_one_worker_with_every_thread() {
        let scheduler = scheduler(2, 2, 0);
        let first = first_slot(&scheduler).await;
        assert_eq!(threads_of(&scheduler.staff(first, 1).await), [2]);
    }

    #[tokio::test]
    async fn long_audio_on_an_idle_server_takes_a_worker_per_thread() {
        let scheduler = scheduler(4, 2, 0);
        let first = first_slot(&scheduler).await;
        let workers = scheduler.staff(first, 6).await;
        assert_eq!(threads_of(&workers), [1, 1], "no more workers than threads");
    }

    #[tokio::test]
    async fn long_audio_never_waits_for_extra_slots() {
        let scheduler = scheduler(2, 2, 1);
        let theirs = first_slot(&scheduler).await;
        let mine = first_slot(&scheduler).await;
        // The other request holds the second slot and runs: one worker, one thread.
        let threads = scheduler.threads.try_one().expect("a free thread");
        let workers = scheduler.staff(mine, 6).await;
        assert_eq!(threads_of(&workers), [1]);
        drop((theirs, threads));
    }

    #[tokio::test]
    async fn beside_another_request_holding_a_slot_each_worker_keeps_one_thread() {
        let scheduler = scheduler(3, 4, 0);
        let _theirs = first_slot(&scheduler).await;
        let mine = first_slot(&scheduler).await;
        let workers = scheduler.staff(mine, 1).await;
        assert_eq!(
            threads_of(&workers),
            [1],
            "the other request runs or waits for threads"
        );
    }

    #[tokio::test]
    async fn workers_are_released_only_while_another_request_waits() {
        let scheduler = scheduler(2, 2, 1);
        let first = first_slot(&scheduler).await;
        let workers = scheduler.staff(first, 6).await;
        assert_eq!(workers.len(), 2);
        assert!(!scheduler.release(), "nobody waits");
        let waiting = scheduler.admit().expect("queued");
        assert!(scheduler.release(), "a request waits for a slot");
        assert_eq!(changes(&scheduler, StateChange::Released), 1);
        let mut workers = workers.into_iter();
        let kept = workers.next();
        drop(workers);
        let seated = scheduler.seat(waiting).await.expect("the released slot");
        assert!(!scheduler.release(), "served");
        drop((kept, seated));
    }

    #[tokio::test]
    async fn a_free_slot_and_thread_are_recruited_unless_another_request_waits() {
        let scheduler = scheduler(2, 2, 1);
        let theirs = first_slot(&scheduler).await;
        let their_threads = scheduler.threads.try_one().expect("a free thread");
        let mine = first_slot(&scheduler).await;
        let workers = scheduler.staff(mine, 6).await;
        assert_eq!(
            threads_of(&workers),
            [1],
            "the other request holds a slot and a thread"
        );
        assert!(scheduler.recruit().is_none(), "no slot free");
        drop((theirs, their_threads));
        let next = scheduler.admit().expect("served by the free slot");
        let after = scheduler.admit().expect("queued");
        assert!(
            scheduler.recruit().is_none(),
            "a request waits that no free slot serves"
        );
        assert_eq!(changes(&scheduler, StateChange::Recruited), 0);
        drop((next, after));
        let recruit = scheduler.recruit().expect("a free slot and thread");
        assert_eq!(recruit.threads(), 1);
        assert_eq!(changes(&scheduler, StateChange::Recruited), 1);
        drop((workers, recruit));
    }
}
