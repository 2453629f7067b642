//! What can go wrong once a request is in the engine, and the one error its front door returns.

use std::time::Duration;

use crate::audio::AudioError;

/// Decoding on a whisper state failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("inference was aborted")]
    Aborted,
    #[error("{0}")]
    Failed(String),
}

/// Why `Engine::transcribe` returned no transcript. The route turns it into an HTTP response in
/// one place (`From<InferError> for ApiError`).
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// Every slot is busy and the wait queue is full: turned away at once.
    #[error("all slots and the wait queue are full")]
    QueueFull {
        /// A hint for Retry-After: roughly how long until the queue moves (`Scheduler::admit`).
        retry_after_secs: u64,
    },
    /// The audio could not be prepared (`audio::load`).
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Decoding ran past its time limit and was aborted.
    #[error("transcription took longer than {limit:?}")]
    Timeout { limit: Duration },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<tokio::task::JoinError> for InferError {
    /// A blocking task that panicked or was cancelled.
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Engine(EngineError::Failed(e.to_string()))
    }
}
