//! A response body that holds a value until the body has been sent to its end or dropped. A
//! response is over when its body is, not when its head is ready: a streamed body ends long
//! after its head, and what must happen at the real end of a response goes in that value's
//! `Drop` (the edge's keep-alive clock, a router's request accounting). The value also hears
//! of each part of the body that goes out (`SendWatch`).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// What a held value hears while its body is sent; its `Drop` marks the end.
pub trait SendWatch: Send + Unpin + 'static {
    /// A part of the body went out to hyper.
    fn progressed(&self) {}
}

/// `response` with `held` dropped once its body has ended, or when hyper drops the body (the
/// client went away, the connection closed).
pub fn hold_until_sent<H: SendWatch>(response: Response, held: H) -> Response {
    response.map(|body| {
        Body::new(HeldBody {
            body,
            held: Some(held),
        })
    })
}

struct HeldBody<H> {
    body: Body,
    held: Option<H>,
}

impl<H: SendWatch> http_body::Body for HeldBody<H> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => {
                if let Some(held) = &this.held {
                    held.progressed();
                }
                // The last frame: the response is over before its bytes reach the client, so a
                // client that reads it and then asks again finds it over (as when the value was
                // dropped with the handler's future).
                if this.body.is_end_stream() {
                    this.held = None;
                }
            }
            // At the end of the body, not when hyper gets round to dropping it.
            Poll::Ready(None | Some(Err(_))) => this.held = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct SetOnDrop(Arc<AtomicBool>);

    impl SendWatch for SetOnDrop {}

    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn held_response(body: Body) -> (Response, Arc<AtomicBool>) {
        let dropped = Arc::new(AtomicBool::new(false));
        let response = hold_until_sent(Response::new(body), SetOnDrop(dropped.clone()));
        (response, dropped)
    }

    #[tokio::test]
    async fn the_held_value_lives_until_the_body_is_read_to_its_end() {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let body = Body::from_stream(tokio_stream_from(receiver));
        let (response, dropped) = held_response(body);
        let mut body = response.into_body();
        sender.send(Ok(Bytes::from("a"))).await.expect("body alive");
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(frame.is_some());
        assert!(
            !dropped.load(Ordering::SeqCst),
            "dropped while the body streams"
        );
        drop(sender);
        let end = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(end.is_none());
        assert!(dropped.load(Ordering::SeqCst), "kept after the body ended");
    }

    #[tokio::test]
    async fn the_held_value_goes_with_the_last_frame_of_a_whole_body() {
        let (response, dropped) = held_response(Body::from("four"));
        let mut body = response.into_body();
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(frame.is_some());
        assert!(
            dropped.load(Ordering::SeqCst),
            "kept past the body's only frame"
        );
    }

    #[test]
    fn a_body_dropped_unsent_drops_the_held_value_and_keeps_its_length() {
        let (response, dropped) = held_response(Body::from("four"));
        assert_eq!(response.body().size_hint().exact(), Some(4));
        drop(response);
        assert!(dropped.load(Ordering::SeqCst));
    }

    /// A stream over an mpsc receiver, without a stream crate for one test.
    fn tokio_stream_from<T: Send + 'static>(
        mut receiver: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Send {
        futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
    }
}
