//! Every request to a transcription endpoint is counted here, once, whatever answers it: the
//! handler, the API key check, the body limit or the router's 405. Failures are counted by the
//! reason their response carries (`ErrorReason`), and a request whose client went away before
//! the answer as `client_closed`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{CounterVec, Histogram, HistogramVec, IntCounterVec, Opts, Registry};
use tracing::info;

use super::endpoint_of;
use crate::error::{ApiError, ErrorReason};
use crate::metrics::{Endpoint, histogram, register};
use crate::state::AppState;
use whisper_monitoring::names;

/// What the transcription endpoints measure, per endpoint.
#[derive(Clone)]
pub struct RequestMetrics {
    requests: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    /// Rendering the transcript in the response format (`whisper_decode_duration_seconds`).
    format_duration: Histogram,
    audio_seconds: CounterVec,
}

impl RequestMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            requests: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        names::TRANSCRIPTION_REQUESTS.name,
                        "Requests that reached a transcription endpoint, good or bad.",
                    ),
                    &["endpoint"],
                )?,
            )?,
            errors: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        names::TRANSCRIPTION_ERRORS.name,
                        "Failed transcription requests by bounded reason.",
                    ),
                    &["endpoint", "reason"],
                )?,
            )?,
            duration: register(
                registry,
                HistogramVec::new(
                    histogram(
                        names::TRANSCRIPTION_DURATION.name,
                        "Whole transcription request, upload read to response.",
                    ),
                    &["endpoint"],
                )?,
            )?,
            format_duration: register(
                registry,
                Histogram::with_opts(histogram(
                    names::DECODE_DURATION.name,
                    "Turning segments and tokens into the response format.",
                ))?,
            )?,
            audio_seconds: register(
                registry,
                CounterVec::new(
                    Opts::new(
                        names::AUDIO_SECONDS.name,
                        "Seconds of input audio transcribed successfully.",
                    ),
                    &["endpoint"],
                )?,
            )?,
        };
        // Pre-create the endpoint series so dashboards show zeros instead of gaps.
        for endpoint in [Endpoint::Transcriptions, Endpoint::Translations] {
            metrics.requests.with_label_values(&[endpoint.label()]);
            metrics.duration.with_label_values(&[endpoint.label()]);
            metrics.audio_seconds.with_label_values(&[endpoint.label()]);
        }
        Ok(metrics)
    }

    fn arrived(&self, endpoint: Endpoint) {
        self.requests.with_label_values(&[endpoint.label()]).inc();
    }

    pub fn failed(&self, endpoint: Endpoint, reason: &str) {
        self.errors
            .with_label_values(&[endpoint.label(), reason])
            .inc();
    }

    fn ended(&self, endpoint: Endpoint, took: Duration) {
        self.duration
            .with_label_values(&[endpoint.label()])
            .observe(took.as_secs_f64());
    }

    /// The transcript was rendered in its response format.
    pub fn formatted(&self, took: Duration) {
        self.format_duration.observe(took.as_secs_f64());
    }

    /// A transcription of this much audio succeeded.
    pub fn transcribed(&self, endpoint: Endpoint, audio_seconds: f64) {
        self.audio_seconds
            .with_label_values(&[endpoint.label()])
            .inc_by(audio_seconds);
    }
}

/// Middleware, outside every other layer: counts each request to a transcription endpoint.
pub async fn count_requests(
    State(app): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(endpoint) = endpoint_of(request.uri().path()) else {
        return next.run(request).await;
    };
    let guard = RequestGuard::new(app, endpoint);
    let response = next.run(request).await;
    let guard = guard.responded(&response);
    // The request is in flight, and its duration runs, until its body is sent: a streamed
    // transcript is sent long after its head.
    whisper_http_edge::hold_until_sent(response, guard)
}

/// Lives as long as the request's future, then as long as its response body: if the future is
/// dropped before `responded` (the client disconnected), the request counts as `client_closed`;
/// the engine aborts its inference then. A streamed response counts its own late failures
/// (`routes::stream`).
struct RequestGuard {
    app: Arc<AppState>,
    endpoint: Endpoint,
    started: Instant,
    responded: bool,
}

impl RequestGuard {
    fn new(app: Arc<AppState>, endpoint: Endpoint) -> Self {
        app.request_started();
        app.metrics.requests.arrived(endpoint);
        Self {
            app,
            endpoint,
            started: Instant::now(),
            responded: false,
        }
    }

    fn responded(mut self, response: &Response) -> Self {
        self.responded = true;
        if let Some(ErrorReason(reason)) = response.extensions().get::<ErrorReason>() {
            self.app.metrics.requests.failed(self.endpoint, reason);
        }
        self
    }
}

impl whisper_http_edge::SendWatch for RequestGuard {}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let metrics = &self.app.metrics.requests;
        if !self.responded {
            metrics.failed(self.endpoint, ApiError::ClientClosed.reason());
            info!(
                endpoint = self.endpoint.label(),
                "client closed the connection; inference aborted"
            );
        }
        metrics.ended(self.endpoint, self.started.elapsed());
        self.app.request_ended();
    }
}
