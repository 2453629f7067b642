//! The HTTP edge: what a connection goes through before any route runs. `serve` accepts up to
//! `--max-connections` (`over_capacity` answers the rest), holds each connection to the head and
//! keep-alive timers (`clock`, fed by `connection_io`), speaks HTTP/1.1 through hyper, and
//! rewrites hyper's own bodiless error answers as the API's JSON (`bare_errors`, applied in
//! `connection_io`). The upload pace is enforced where the body is read (`routes::form`).

mod bare_errors;
mod clock;
mod connection_io;
mod over_capacity;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::ServiceExt;
use tracing::{debug, warn};

use clock::{ConnectionClock, Overrun};
use connection_io::ConnectionIo;

/// The connection limits, from the flags.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    pub header_read: Duration,
    pub keep_alive_idle: Duration,
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests and close.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: EdgeLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!("connection limit reached; answering 503");
            tokio::spawn(over_capacity::refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(ConnectionClock::opened(
            limits.header_read,
            limits.keep_alive_idle,
            Instant::now(),
        ));
        let io = TokioIo::new(ConnectionIo::new(stream, clock.clone()));
        let app = app.clone();
        let watched = clock.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            clock.request_started();
            let clock = clock.clone();
            let response = app.clone().oneshot(request.map(Body::new));
            async move {
                let response = response.await;
                clock.response_ready(Instant::now());
                response
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            // The clock above times heads; hyper's own timer would also cut idle keep-alives.
            .header_read_timeout(None)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Dropping the connection closes it; the clock runs out only while no request is
            // in the router, so no answer is cut short.
            tokio::select! {
                served = connection => if let Err(e) = served {
                    debug!(error = %e, "connection ended with an error");
                },
                overrun = watched.overrun() => match overrun {
                    Overrun::Head => debug!("request head too slow; connection closed"),
                    Overrun::KeepAlive => debug!("kept-alive connection idle; closed"),
                },
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Out of file descriptors and the like: wait a moment instead of spinning (as hyper 0.14 did).
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    warn!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
