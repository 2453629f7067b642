//! `stream=true`: the transcript as server-sent events while it is decoded.
//!
//! Until inference starts (the queue, the slot, the audio), a failure is an ordinary HTTP error
//! response. From then on the answer is a 200 `text/event-stream`: a `transcript.text.delta` per
//! segment as each window of the recording is done, in order, then `transcript.text.done`; a
//! failure from then on is an error event, counted under its reason here, since the response
//! already counted as answered. A client that goes away drops the stream, and with it the
//! inference (`Engine::transcribe` aborts when its future is dropped).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tracing::{info, warn};

use crate::engine::progress::{Progress, ProgressSink};
use crate::engine::transcript::Segment;
use crate::engine::{InferError, Transcribed};
use crate::error::ApiError;
use crate::format::events;
use crate::metrics::Endpoint;
use crate::state::AppState;

/// A comment line this often keeps proxies from timing the stream out between windows, and
/// finds a client that went away even while no window finishes.
const KEEP_ALIVE: Duration = Duration::from_secs(1);

/// Streams the transcription `transcribe` runs, given the sink it reports progress to.
pub async fn respond<F, Fut>(
    app: Arc<AppState>,
    endpoint: Endpoint,
    logprobs: bool,
    transcribe: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(ProgressSink) -> Fut,
    Fut: Future<Output = Result<Transcribed, InferError>> + Send + 'static,
{
    let (sink, mut progress) = ProgressSink::channel();
    let mut job = Box::pin(transcribe(sink));
    // The engine says Started before any part of the transcript; a job that ends first is
    // answered as an error response, or as a stream with everything at once.
    let finished = tokio::select! {
        biased;
        result = &mut job => Some(result),
        _ = progress.recv() => None,
    };
    let finished = match finished {
        Some(Err(error)) => return Err(error.into()),
        other => other,
    };
    let mut deltas = Deltas {
        logprobs,
        sent_segments: 0,
    };
    let events = async_stream::stream! {
        let mut answer = StreamAnswer { app, endpoint, finished: false };
        let result = match finished {
            Some(result) => result,
            None => loop {
                tokio::select! {
                    Some(Progress::Decoded(part)) = progress.recv() => {
                        for event in deltas.of(&part.segments) {
                            yield event;
                        }
                    }
                    result = &mut job => break result,
                }
            },
        };
        // Parts sent just before the end are still in the channel.
        while let Ok(progress) = progress.try_recv() {
            if let Progress::Decoded(part) = progress {
                for event in deltas.of(&part.segments) {
                    yield event;
                }
            }
        }
        match result {
            Ok(transcribed) => {
                let rest = transcribed.transcript.segments.get(deltas.sent_segments..);
                for event in deltas.of(rest.unwrap_or_default()) {
                    yield event;
                }
                yield sse(&events::done(&transcribed.transcript, logprobs));
                answer.succeeded(transcribed.audio_seconds);
            }
            Err(error) => {
                let error = ApiError::from(error);
                yield sse(&events::error(&error));
                answer.failed(&error);
            }
        }
    };
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // nginx (and so ingress-nginx) would otherwise buffer the events until the end.
    response.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

fn sse(event: &serde_json::Value) -> Result<Event, Infallible> {
    Ok(Event::default().data(event.to_string()))
}

/// Turns segments into delta events. The stream's first text loses whisper's leading space, so
/// the deltas join to the done event's text.
struct Deltas {
    logprobs: bool,
    sent_segments: usize,
}

impl Deltas {
    fn of(&mut self, segments: &[Segment]) -> Vec<Result<Event, Infallible>> {
        segments
            .iter()
            .map(|segment| {
                let text = if self.sent_segments == 0 {
                    segment.text.trim_start()
                } else {
                    &segment.text
                };
                self.sent_segments += 1;
                sse(&events::delta(text, segment, self.logprobs))
            })
            .collect()
    }
}

/// A streamed answer's own accounting: the request already counted as answered when its head
/// went, so a later failure, or a client gone before the end, is counted here.
struct StreamAnswer {
    app: Arc<AppState>,
    endpoint: Endpoint,
    finished: bool,
}

impl StreamAnswer {
    fn succeeded(&mut self, audio_seconds: f64) {
        self.finished = true;
        self.app
            .metrics
            .requests
            .transcribed(self.endpoint, audio_seconds);
    }

    fn failed(&mut self, error: &ApiError) {
        self.finished = true;
        self.app
            .metrics
            .requests
            .failed(self.endpoint, error.reason());
        warn!(endpoint = self.endpoint.label(), reason = error.reason(), error = %error, "streamed transcription failed");
    }
}

impl Drop for StreamAnswer {
    fn drop(&mut self) {
        if !self.finished {
            let reason = ApiError::ClientClosed.reason();
            self.app.metrics.requests.failed(self.endpoint, reason);
            info!(
                endpoint = self.endpoint.label(),
                "client closed the stream; inference aborted"
            );
        }
    }
}
