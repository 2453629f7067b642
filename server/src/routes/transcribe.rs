//! `POST /v1/audio/transcriptions` and `/v1/audio/translations`.
//!
//! Stages: read the form → check its options against the model → the engine's front door
//! (`Engine::transcribe`: queue, slot, audio, threads, inference) → format the response. Errors
//! become HTTP responses in one place (`From<InferError> for ApiError`); the request's own
//! metrics are counted here (`RequestMetrics`), each stage's where it is measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus::{CounterVec, Histogram, HistogramVec, IntCounterVec, Opts, Registry};
use tracing::{info, warn};

use super::form::{self, AudioForm};
use crate::audio::{self, Upload};
use crate::engine::Engine;
use crate::engine::params::{self, TranscribeOptions};
use crate::error::ApiError;
use crate::format::{self, Task};
use crate::metrics::{Endpoint, histogram, register};
use crate::state::AppState;
use whisper_monitoring::names;

pub async fn transcriptions(
    State(app): State<Arc<AppState>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    handle(app, Endpoint::Transcriptions, multipart).await
}

pub async fn translations(
    State(app): State<Arc<AppState>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    handle(app, Endpoint::Translations, multipart).await
}

/// What the transcription routes measure, per endpoint.
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

    /// A request turned away before its handler ran (`auth`): counted as a request and an error,
    /// not in the request duration.
    pub fn refused(&self, endpoint: Endpoint, error: &ApiError) {
        self.arrived(endpoint);
        self.failed(endpoint, error.reason());
    }

    fn ended(&self, endpoint: Endpoint, took: Duration) {
        self.duration
            .with_label_values(&[endpoint.label()])
            .observe(took.as_secs_f64());
    }
}

/// Lives as long as the handler future and counts the request: if that future is dropped before
/// `finish` (the client disconnected), as `client_closed`; the engine aborts its inference then.
struct RequestGuard {
    app: Arc<AppState>,
    endpoint: Endpoint,
    started: Instant,
    finished: bool,
}

impl RequestGuard {
    fn new(app: Arc<AppState>, endpoint: Endpoint) -> Self {
        app.request_started();
        app.metrics.requests.arrived(endpoint);
        Self {
            app,
            endpoint,
            started: Instant::now(),
            finished: false,
        }
    }

    fn finish(mut self, result: &Result<Response, ApiError>) {
        self.finished = true;
        if let Err(e) = result {
            self.app.metrics.requests.failed(self.endpoint, e.reason());
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.app
                .metrics
                .requests
                .failed(self.endpoint, ApiError::ClientClosed.reason());
            info!(
                endpoint = self.endpoint.label(),
                "client closed the connection; inference aborted"
            );
        }
        self.app
            .metrics
            .requests
            .ended(self.endpoint, self.started.elapsed());
        self.app.request_ended();
    }
}

async fn handle(
    app: Arc<AppState>,
    endpoint: Endpoint,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let guard = RequestGuard::new(app.clone(), endpoint);
    let result = transcribe(&app, endpoint, multipart).await;
    guard.finish(&result);
    match result {
        Ok(response) => {
            info!(endpoint = endpoint.label(), "transcribed");
            response
        }
        Err(e) => {
            if e.status().is_server_error() {
                warn!(endpoint = endpoint.label(), reason = e.reason(), error = %e, "request failed");
            } else {
                info!(endpoint = endpoint.label(), reason = e.reason(), error = %e, "request rejected");
            }
            e.into_response()
        }
    }
}

async fn transcribe(
    app: &Arc<AppState>,
    endpoint: Endpoint,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let read_started = Instant::now();
    let form = form::read(multipart, app.limits.max_upload_bytes).await?;
    let read_time = read_started.elapsed();
    if form.file.is_empty() {
        return Err(ApiError::DecodeFailed("the uploaded file is empty".into()));
    }
    let engine = app
        .engine()
        .ok_or(ApiError::NotReady("the model is still loading"))?;
    let task = match endpoint {
        Endpoint::Transcriptions => Task::Transcribe,
        Endpoint::Translations => Task::Translate,
    };
    let options = options(&engine, &form, task)?;
    let upload = Upload {
        bytes: form.file,
        read_time,
        max_seconds: app.limits.max_audio_seconds,
    };
    let audio_metrics = app.metrics.audio.clone();
    let transcribed = engine
        .transcribe(
            move || audio::load(upload, &audio_metrics),
            options,
            app.limits.inference_time,
        )
        .await?;

    let metrics = &app.metrics.requests;
    let format_started = Instant::now();
    let rendered = format::render(&transcribed.transcript, form.response_format, task);
    metrics
        .format_duration
        .observe(format_started.elapsed().as_secs_f64());
    metrics
        .audio_seconds
        .with_label_values(&[endpoint.label()])
        .inc_by(transcribed.audio_seconds);
    Ok((
        [(header::CONTENT_TYPE, rendered.content_type)],
        rendered.body,
    )
        .into_response())
}

fn options(engine: &Engine, form: &AudioForm, task: Task) -> Result<TranscribeOptions, ApiError> {
    let language = match (&form.language, task) {
        (Some(code), Task::Transcribe) => Some(language(engine, code)?),
        // Translation always targets English; the source language is the model's default.
        _ => params::default_language(engine.is_multilingual()),
    };
    let prompt_tokens = match &form.prompt {
        Some(prompt) if prompt.contains('\0') => {
            return Err(ApiError::BadRequest(
                "the prompt contains a NUL byte".into(),
            ));
        }
        Some(prompt) => engine
            .prompt_tokens(prompt)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?,
        None => Vec::new(),
    };
    Ok(TranscribeOptions {
        language,
        prompt_tokens,
        temperature: form.temperature,
        translate: task == Task::Translate,
        word_timestamps: form.word_timestamps,
        beam_size: form.beam_size,
    })
}

/// Validates an ISO-639-1 code against whisper's list and the model's abilities.
fn language(engine: &Engine, code: &str) -> Result<&'static str, ApiError> {
    let code = code.to_ascii_lowercase();
    let known = (!code.contains('\0'))
        .then(|| whisper_rs::get_lang_id(&code))
        .flatten()
        .and_then(whisper_rs::get_lang_str);
    let Some(code) = known else {
        return Err(ApiError::BadRequest(format!(
            "unknown language '{}'; use an ISO-639-1 code such as 'en'",
            code.chars().take(20).collect::<String>()
        )));
    };
    if code != "en" && !engine.is_multilingual() {
        return Err(ApiError::BadRequest(format!(
            "the loaded model is English-only and cannot transcribe language '{code}'"
        )));
    }
    Ok(code)
}
