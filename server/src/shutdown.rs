//! Graceful shutdown: on SIGTERM or SIGINT, readiness fails at once, in-flight requests finish
//! within a grace period, then the server stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};

use crate::state::AppState;

/// Resolves on the first SIGTERM or SIGINT.
pub async fn termination_signal() -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received; draining"),
        _ = int.recv() => info!("SIGINT received; draining"),
    }
    Ok(())
}

/// Marks the server as draining, then waits until no transcription is in flight or the grace
/// period ends, whichever comes first.
pub async fn drain(app: Arc<AppState>, grace: Duration) {
    app.start_draining();
    let deadline = tokio::time::Instant::now() + grace;
    while app.active_requests() > 0 {
        if tokio::time::Instant::now() >= deadline {
            warn!(
                active = app.active_requests(),
                "grace period over; stopping with requests still in flight"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    info!("no requests in flight; stopping");
}
