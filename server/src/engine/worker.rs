//! A worker: one slot (a pooled whisper state, held by one request) with the threads that run
//! it. A request holds one worker per state it decodes on and gives each back (slot and threads
//! at once, when dropped) as soon as it needs that state no more.

use super::error::EngineError;
use super::pool::Slot;
use super::threads::ThreadGrant;

/// Generic over the pooled state so scheduling is testable without a model.
pub struct Worker<S> {
    slot: Slot<S>,
    threads: ThreadGrant,
}

impl<S> Worker<S> {
    pub fn new(slot: Slot<S>, threads: ThreadGrant) -> Self {
        Self { slot, threads }
    }

    /// Threads this worker runs its state on.
    pub fn threads(&self) -> usize {
        self.threads.threads()
    }

    /// The state, with the threads to run it on; a new one from `make` first when `fresh`
    /// (`Slot::state`).
    pub fn state(
        &mut self,
        fresh: bool,
        make: impl FnOnce() -> Result<S, EngineError>,
    ) -> Result<(&mut S, usize), EngineError> {
        let threads = self.threads.threads();
        Ok((self.slot.state(fresh, make)?, threads))
    }
}
