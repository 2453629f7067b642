//! The HTTP edge of whisper-server and whisper-operator: what a connection goes through before
//! any route runs. `serve` accepts up to `max_connections` (`over_capacity` answers the rest),
//! holds each connection to the head and keep-alive timers (`clock`, fed by `connection_io`),
//! speaks HTTP/1.1 through hyper, and rewrites hyper's own bodiless error answers with the
//! caller's error body (`bare_errors`, applied in `connection_io`; the errors are `error`'s).
//! What comes after the head, such as how fast a body must arrive, is the router's to limit.

mod bare_errors;
mod clock;
mod connection_io;
mod error;
mod held_body;
mod lingering_close;
mod over_capacity;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio::time::Instant;
use tower::ServiceExt;
use tracing::{debug, warn};

use clock::{ConnectionClock, Overrun};
use connection_io::ConnectionIo;
pub use error::{EdgeError, ErrorBody, RenderError};
pub use held_body::{SendWatch, hold_until_sent};

/// The connection limits, from the flags.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// How long a request head may take to arrive whole, from the connection's opening or from
    /// the first byte of a later request on it; past it the connection is closed unanswered.
    pub header_read: Duration,
    /// How long a kept-alive connection may wait for its next request after a response.
    pub keep_alive_idle: Duration,
    /// Most open connections; a new one past it gets a 503 at once and is closed.
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests and close. The errors the edge answers itself get their body from `render`;
/// `app` must not answer 400, 414 or 431 with an empty body (see `bare_errors`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: EdgeLimits,
    render: RenderError,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping, _) = broadcast::channel(1);
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
            tokio::spawn(over_capacity::refuse(stream, render));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(ConnectionClock::opened(
            limits.header_read,
            limits.keep_alive_idle,
            Instant::now(),
        ));
        let io = TokioIo::new(ConnectionIo::new(stream, clock.clone(), render));
        let app = app.clone();
        let watched = clock.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            clock.request_started();
            let clock = clock.clone();
            let response = app.clone().oneshot(request.map(Body::new));
            // Boxed: `poll_without_shutdown` wants an Unpin future.
            // The connection idles (its keep-alive clock runs) once the body is sent, not when
            // the head is ready: a streamed body may take minutes.
            Box::pin(async move {
                let response = response.await?;
                clock.response_ready(Instant::now());
                Ok::<_, std::convert::Infallible>(hold_until_sent(response, ResponseSent(clock)))
            })
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            // The clock above times heads; hyper's own timer would also cut idle keep-alives.
            .header_read_timeout(None)
            .serve_connection(io, service);
        tokio::spawn(drive(connection, watched, stopping.subscribe(), permit));
    }
    drop(listener);
    let _ = stopping.send(());
    // Every connection holds a permit until it is closed.
    let _ = permits.acquire_many(limits.max_connections as u32).await;
}

/// Runs one connection to its end: until the client is done with it, the server is shutting
/// down and its request is answered, or the clock runs out. A connection that ended in an
/// orderly way is closed lingering (`lingering_close`), so an early answer is not lost.
async fn drive<S>(
    mut connection: hyper::server::conn::http1::Connection<TokioIo<ConnectionIo<TcpStream>>, S>,
    clock: Arc<ConnectionClock>,
    mut stopping: broadcast::Receiver<()>,
    permit: OwnedSemaphorePermit,
) where
    S: hyper::service::HttpService<Incoming, ResBody = Body> + Unpin,
    S::Future: Unpin,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut asked_to_stop = false;
    let ended = loop {
        // Dropping the connection closes it; the clock runs out only while no request is in
        // the router, so no answer is cut short unless its client stopped reading it.
        tokio::select! {
            served = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => break served,
            overrun = clock.overrun() => {
                match overrun {
                    Overrun::Head => debug!("request head too slow; connection closed"),
                    Overrun::KeepAlive => debug!("kept-alive connection idle; closed"),
                    Overrun::SendStalled => debug!("client stopped reading its response; connection closed"),
                }
                drop(permit);
                return;
            },
            _ = stopping.recv(), if !asked_to_stop => {
                asked_to_stop = true;
                std::pin::Pin::new(&mut connection).graceful_shutdown();
            },
        }
    };
    match ended {
        Ok(()) => {
            let io = connection.into_parts().io.into_inner();
            lingering_close::linger(io, lingering_close::AFTER_AN_ANSWER).await;
        }
        Err(e) => debug!(error = %e, "connection ended with an error"),
    }
    drop(permit);
}

/// Keeps a connection's clock on its response's body: alive while parts of it go out, idle
/// once it has been sent (or dropped).
struct ResponseSent(Arc<ConnectionClock>);

impl SendWatch for ResponseSent {
    fn progressed(&self) {
        self.0.body_progressed(Instant::now());
    }
}

impl Drop for ResponseSent {
    fn drop(&mut self) {
        self.0.response_sent(Instant::now());
    }
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
