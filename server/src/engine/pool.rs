//! A pool of whisper states sharing one model, behind a bounded wait queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use prometheus::IntGauge;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// The slots: one pooled whisper state each. Generic over the pooled item so the queue logic is
/// testable without a model.
pub struct Pool<T> {
    states: Mutex<Vec<T>>,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue_limit: usize,
    slots: usize,
    gauges: PoolGauges,
}

/// Gauges the pool keeps current.
pub struct PoolGauges {
    /// Requests waiting for their first state (`whisper_queue_depth`).
    pub queue_depth: IntGauge,
    /// Requests holding at least one state (`whisper_inflight_requests`).
    pub inflight: IntGauge,
    /// States in use, a long request's extra ones included (`whisper_busy_slots`).
    pub busy_slots: IntGauge,
}

/// Admission to the queue: counted in `whisper_queue_depth` until it becomes a `Slot`.
pub struct Ticket<T> {
    pool: Arc<Pool<T>>,
}

/// Exclusive use of one whisper state; gives it back when dropped.
pub struct Slot<T> {
    state: Option<T>,
    pool: Arc<Pool<T>>,
    _permit: OwnedSemaphorePermit,
    /// A request's first slot counts it in `whisper_inflight_requests`; the extra states a long
    /// request takes on (`Pool::try_slot`) do not, so the gauge counts requests, not states.
    counts_request: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("queue full")]
pub struct QueueFull {
    /// A hint for Retry-After: roughly how long until the queue moves.
    pub waiting: usize,
}

impl<T> Pool<T> {
    pub fn new(states: Vec<T>, queue_limit: usize, gauges: PoolGauges) -> Self {
        let slots = states.len();
        Self {
            states: Mutex::new(states),
            permits: Arc::new(Semaphore::new(slots)),
            waiting: AtomicUsize::new(0),
            queue_limit,
            slots,
            gauges,
        }
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Whether another request than the holder of `held` slots holds one (so it runs, or waits
    /// for threads). Requests queued for a slot do not count: no thread helps them.
    pub fn others_hold_slots(&self, held: usize) -> bool {
        self.slots - self.permits.available_permits() > held
    }

    /// Whether a request waits for a slot that no free one will serve: a request decoding on
    /// several states then hands one back (`Scheduler::release`).
    pub fn has_unserved_waiters(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > self.permits.available_permits()
    }

    /// Joins the wait queue, or fails at once when it is full.
    pub fn enter(self: &Arc<Self>) -> Result<Ticket<T>, QueueFull> {
        let capacity = self.queue_limit + self.permits.available_permits();
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting < capacity).then_some(waiting + 1)
            })
            .map_err(|waiting| QueueFull { waiting })?;
        self.gauges.queue_depth.inc();
        Ok(Ticket { pool: self.clone() })
    }

    fn leave_queue(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.gauges.queue_depth.dec();
    }
}

impl<T> Ticket<T> {
    /// Waits for a free state. Dropping the future leaves the queue.
    pub async fn acquire(self) -> Result<Slot<T>, AcquireError> {
        let pool = self.pool.clone();
        let permit = pool.permits.clone().acquire_owned().await?;
        drop(self);
        Ok(Slot::take(pool, permit, true))
    }
}

impl<T> Pool<T> {
    /// A free state now, without queueing: for a request that can use more than one. Never
    /// taken ahead of waiting requests (the semaphore hands freed permits to waiters first).
    pub fn try_slot(self: &Arc<Self>) -> Option<Slot<T>> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        Some(Slot::take(self.clone(), permit, false))
    }
}

impl<T> Drop for Ticket<T> {
    fn drop(&mut self) {
        self.pool.leave_queue();
    }
}

impl<T> Slot<T> {
    fn take(pool: Arc<Pool<T>>, permit: OwnedSemaphorePermit, counts_request: bool) -> Self {
        let state = pool
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        if counts_request {
            pool.gauges.inflight.inc();
        }
        pool.gauges.busy_slots.inc();
        Slot {
            state,
            pool,
            _permit: permit,
            counts_request,
        }
    }

    /// The state this slot holds, a new one from `make` first when `fresh`. The old one is
    /// dropped before `make` runs, so the two never take memory at once; a slot that `make`
    /// failed to fill holds none, and the next call fills it.
    pub fn state<E>(
        &mut self,
        fresh: bool,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<&mut T, E> {
        if fresh {
            self.state = None;
        }
        let state = match self.state.take() {
            Some(state) => state,
            None => make()?,
        };
        Ok(self.state.insert(state))
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            self.pool
                .states
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(state);
        }
        if self.counts_request {
            self.pool.gauges.inflight.dec();
        }
        self.pool.gauges.busy_slots.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(slots: usize, queue: usize) -> Arc<Pool<usize>> {
        let gauge = |name: &str| IntGauge::new(name, "test").expect("valid gauge name");
        Arc::new(Pool::new(
            (0..slots).collect(),
            queue,
            PoolGauges {
                queue_depth: gauge("queue"),
                inflight: gauge("inflight"),
                busy_slots: gauge("busy"),
            },
        ))
    }

    #[tokio::test]
    async fn admits_slots_plus_queue_then_rejects() -> Result<(), AcquireError> {
        let pool = pool(1, 1);
        let first = pool.enter().expect("a free slot admits the first request");
        let mut slot = first.acquire().await?;
        assert_eq!(slot.state(false, || Err("none to make")).copied(), Ok(0));
        let _waiting = pool.enter().expect("the second request waits in the queue");
        assert!(pool.enter().is_err(), "the third request must be rejected");
        assert_eq!(pool.gauges.queue_depth.get(), 1);
        assert_eq!(pool.gauges.inflight.get(), 1);
        drop(slot);
        assert_eq!(pool.gauges.inflight.get(), 0);
        Ok(())
    }

    #[tokio::test]
    async fn a_fresh_state_replaces_the_old_one_and_goes_back_to_the_pool()
    -> Result<(), AcquireError> {
        let pool = pool(1, 0);
        let mut slot = pool.enter().expect("admitted").acquire().await?;
        assert_eq!(slot.state(true, || Ok::<_, ()>(7)).copied(), Ok(7));
        assert_eq!(slot.state(false, || Ok::<_, ()>(8)).copied(), Ok(7), "kept");
        drop(slot);
        let mut slot = pool.enter().expect("admitted").acquire().await?;
        assert_eq!(slot.state(false, || Err(())).copied(), Ok(7));
        Ok(())
    }

    #[tokio::test]
    async fn a_slot_left_empty_by_a_failed_make_is_filled_by_the_next_call()
    -> Result<(), AcquireError> {
        let pool = pool(1, 0);
        let mut slot = pool.enter().expect("admitted").acquire().await?;
        assert_eq!(
            slot.state(true, || Err("out of memory")),
            Err("out of memory")
        );
        drop(slot);
        let mut slot = pool.enter().expect("admitted").acquire().await?;
        assert_eq!(slot.state(false, || Ok::<_, ()>(9)).copied(), Ok(9));
        Ok(())
    }

    #[tokio::test]
    async fn try_slot_takes_free_states_only_and_never_ahead_of_a_waiter()
    -> Result<(), AcquireError> {
        let pool = pool(2, 1);
        let first = pool.enter().expect("admitted").acquire().await?;
        let extra = pool.try_slot().expect("one state is still free");
        assert_eq!(
            pool.gauges.inflight.get(),
            1,
            "an extra state is not another request"
        );
        assert_eq!(pool.gauges.busy_slots.get(), 2);
        assert!(pool.try_slot().is_none(), "no free state left");
        let waiter = tokio::spawn(pool.enter().expect("queued").acquire());
        tokio::task::yield_now().await;
        drop(extra);
        assert!(
            pool.try_slot().is_none(),
            "the freed state belongs to the waiting request"
        );
        drop(waiter.await.expect("the waiter ran")?);
        drop(first);
        assert_eq!(pool.gauges.inflight.get(), 0);
        Ok(())
    }

    #[tokio::test]
    async fn others_hold_slots_only_while_they_have_one() -> Result<(), AcquireError> {
        let pool = pool(2, 2);
        let mine = pool.enter().expect("admitted").acquire().await?;
        assert!(!pool.others_hold_slots(1), "alone");
        let extra = pool.try_slot().expect("free");
        assert!(!pool.others_hold_slots(2), "both slots are mine");
        let _queued = pool.enter().expect("queued");
        assert!(
            !pool.others_hold_slots(2),
            "a request queued for a slot cannot use threads"
        );
        drop(extra);
        let theirs = pool.enter().expect("admitted").acquire().await?;
        assert!(pool.others_hold_slots(1), "another request holds a slot");
        drop(theirs);
        drop(mine);
        Ok(())
    }

    #[tokio::test]
    async fn only_a_waiter_no_free_slot_serves_is_unserved() -> Result<(), AcquireError> {
        let pool = pool(2, 2);
        let mine = pool.enter().expect("admitted").acquire().await?;
        let entering = pool.enter().expect("admitted");
        assert!(!pool.has_unserved_waiters(), "a free slot serves it");
        let extra = pool.try_slot().expect("free");
        assert!(pool.has_unserved_waiters());
        drop(extra);
        drop(entering.acquire().await?);
        assert!(!pool.has_unserved_waiters());
        drop(mine);
        Ok(())
    }

    #[tokio::test]
    async fn dropped_ticket_leaves_the_queue() {
        let pool = pool(1, 0);
        let ticket = pool.enter().expect("a free slot admits");
        drop(ticket);
        assert_eq!(pool.gauges.queue_depth.get(), 0);
        assert!(pool.enter().is_ok());
    }
}
