//! Graceful shutdown: on SIGTERM or SIGINT, readiness fails at once, every response says
//! `Connection: close`, in-flight requests finish within a grace period, then the server stops.
//!
//! The `Connection: close` is what keeps clients whole: a kept-alive connection stays with this
//! pod after the Service stops routing new ones here, and a client would send its next request
//! on it. Closed after its answer instead, the client's next request opens a new connection,
//! which goes to a pod that stays; closing an idle kept-alive connection races a request the
//! client may be sending on it at that moment.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
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

/// Middleware: once the server drains, each response closes its connection.
pub async fn close_connections_when_draining(
    State(app): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if app.is_draining() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
