//! Polling the cluster until something holds, with a deadline and a description of what was
//! last seen, so a timeout says why.

use std::future::Future;
use std::time::Duration;

use crate::error::{E2eError, Result};

/// How often conditions are re-checked.
const POLL: Duration = Duration::from_millis(500);

/// What one check found: done with a value, or not yet with a note of what it saw.
pub enum Check<T> {
    Done(T),
    NotYet(String),
}

/// Calls `check` until it returns `Done`, an error, or `timeout` passes.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await? {
            Check::Done(value) => return Ok(value),
            Check::NotYet(last) => last,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(E2eError::Timeout {
                what: what.to_string(),
                after: timeout,
                last,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}
