//! One whisper state with the threads it runs on: what a request holds per state it decodes
//! on, and gives back (both at once, when dropped) as soon as it needs that state no more.

use whisper_rs::WhisperState;

use super::EngineError;
use super::pool::Slot;
use super::threads::ThreadGrant;

pub struct Lease {
    slot: Slot<WhisperState>,
    threads: ThreadGrant,
}

impl Lease {
    pub fn new(slot: Slot<WhisperState>, threads: ThreadGrant) -> Self {
        Self { slot, threads }
    }

    /// The state, with the threads to run it on.
    pub fn state(&mut self) -> Result<(&mut WhisperState, usize), EngineError> {
        let threads = self.threads.threads();
        let state = self
            .slot
            .state()
            .ok_or_else(|| EngineError::Failed("no whisper state in the slot".into()))?;
        Ok((state, threads))
    }
}
