//! A connection's socket as hyper sees it: reads are reported to the connection's clock (the
//! first bytes of a request end its idle time and start its head timer), and hyper's bodiless
//! error answers are swapped for the caller's error body on their way out (`bare_errors`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::bare_errors::{hyper_error_in, raw_response};
use crate::clock::ConnectionClock;
use crate::error::RenderError;

/// The rest of a replacement being written, and how much of hyper's buffer it stands for.
struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    replaces: usize,
}

pin_project! {
    pub struct ConnectionIo<T> {
        #[pin]
        inner: T,
        clock: Arc<ConnectionClock>,
        render: RenderError,
        replacing: Option<Replacement>,
    }
}

impl<T> ConnectionIo<T> {
    pub fn new(inner: T, clock: Arc<ConnectionClock>, render: RenderError) -> Self {
        Self {
            inner,
            clock,
            render,
            replacing: None,
        }
    }
}

impl<T: AsyncRead> AsyncRead for ConnectionIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.inner.poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.bytes_arrived(Instant::now());
        }
        polled
    }
}

impl<T: AsyncWrite> AsyncWrite for ConnectionIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut this = self.project();
        let replacement = match this.replacing {
            Some(replacement) => replacement,
            None => match hyper_error_in(buf) {
                None => return this.inner.poll_write(cx, buf),
                Some(error) => this.replacing.insert(Replacement {
                    bytes: raw_response(error, *this.render),
                    written: 0,
                    replaces: buf.len(),
                }),
            },
        };
        while replacement.written < replacement.bytes.len() {
            let n = ready!(
                this.inner
                    .as_mut()
                    .poll_write(cx, &replacement.bytes[replacement.written..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            replacement.written += n;
        }
        let replaced = replacement.replaces.min(buf.len());
        *this.replacing = None;
        Poll::Ready(Ok(replaced))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}
