//! `POST /v1/audio/transcriptions` and `/v1/audio/translations`.
//!
//! Pipeline: read the form → join the bounded queue (429 when full) → wait for a slot →
//! decode and resample (blocking thread) → inference (blocking thread, time-limited,
//! aborted if the client goes away) → format. Each stage records its histogram.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tracing::{info, warn};

use super::form::{self, AudioForm};
use crate::audio::{self, AudioError};
use crate::engine::params::{self, TranscribeOptions};
use crate::engine::{Engine, EngineError};
use crate::error::ApiError;
use crate::format::{self, Task};
use crate::metrics::Endpoint;
use crate::state::AppState;

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

/// Lives as long as the handler future. If that future is dropped before `finish` (the client
/// disconnected), it stops the inference and counts the request as `client_closed`.
struct RequestGuard {
    app: Arc<AppState>,
    endpoint: Endpoint,
    started: Instant,
    abort: Arc<AtomicBool>,
    finished: bool,
}

impl RequestGuard {
    fn new(app: Arc<AppState>, endpoint: Endpoint) -> Self {
        app.request_started();
        app.metrics
            .requests
            .with_label_values(&[endpoint.label()])
            .inc();
        Self {
            app,
            endpoint,
            started: Instant::now(),
            abort: Arc::new(AtomicBool::new(false)),
            finished: false,
        }
    }

    fn finish(mut self, result: &Result<Response, ApiError>) {
        self.finished = true;
        if let Err(e) = result {
            self.app.metrics.record_error(self.endpoint, e.reason());
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.abort.store(true, Ordering::Relaxed);
            self.app
                .metrics
                .record_error(self.endpoint, ApiError::ClientClosed.reason());
            info!(
                endpoint = self.endpoint.label(),
                "client closed the connection; inference aborted"
            );
        }
        self.app
            .metrics
            .request_duration
            .with_label_values(&[self.endpoint.label()])
            .observe(self.started.elapsed().as_secs_f64());
        self.app.request_ended();
    }
}

async fn handle(
    app: Arc<AppState>,
    endpoint: Endpoint,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let guard = RequestGuard::new(app.clone(), endpoint);
    let result = transcribe(&app, endpoint, multipart, guard.abort.clone()).await;
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
    abort: Arc<AtomicBool>,
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
    let options = options(engine, &form, task)?;

    let ticket = engine.pool().enter().map_err(|full| ApiError::QueueFull {
        retry_after_secs: 1 + (full.waiting / engine.pool().slots().max(1)) as u64,
    })?;
    let slot = ticket
        .acquire()
        .await
        .map_err(|e| ApiError::InferenceFailed(e.to_string()))?;

    let pcm = load_audio(app, form.file, read_time).await?;
    let audio_seconds = audio::whisper_seconds(pcm.len());

    let threads = engine.threads().reserve().await;
    let leases = engine.gather_states(slot, threads, pcm.len());

    let limit = app.limits.timeout_for(audio_seconds);
    let inference_app = app.clone();
    let inference_abort = abort.clone();
    let mut job = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let engine = inference_app
            .engine()
            .ok_or_else(|| EngineError::Failed("model unloaded".into()))?;
        // The slots (their whisper states) and the threads go back inside, not when the
        // client's request ends: an aborted inference still runs until full() returns.
        let result = engine.transcribe(leases, &pcm, &options, &inference_abort);
        inference_app
            .metrics
            .inference_duration
            .observe(started.elapsed().as_secs_f64());
        result
    });
    let transcript = match tokio::time::timeout(limit, &mut job).await {
        Ok(joined) => joined.map_err(|e| ApiError::InferenceFailed(e.to_string()))?,
        Err(_) => {
            abort.store(true, Ordering::Relaxed);
            // Wait for whisper.cpp to notice the abort so the slot is really free again.
            let _ = job.await;
            return Err(ApiError::Timeout {
                limit_secs: limit.as_secs_f64(),
            });
        }
    }
    .map_err(|e| match e {
        EngineError::Aborted => ApiError::ClientClosed,
        other => ApiError::InferenceFailed(other.to_string()),
    })?;

    let format_started = Instant::now();
    let rendered = format::render(&transcript, form.response_format, task);
    app.metrics
        .decode_duration
        .observe(format_started.elapsed().as_secs_f64());
    app.metrics
        .audio_seconds
        .with_label_values(&[endpoint.label()])
        .inc_by(audio_seconds);
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

/// Decodes and resamples on a blocking thread; records the audio-load and processing histograms.
async fn load_audio(
    app: &Arc<AppState>,
    bytes: Vec<u8>,
    read_time: Duration,
) -> Result<Vec<f32>, ApiError> {
    let max_seconds = app.limits.max_audio_seconds;
    let metrics_app = app.clone();
    let job = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let decoded = audio::decode::decode(bytes, max_seconds);
        metrics_app
            .metrics
            .audio_load_duration
            .observe((read_time + started.elapsed()).as_secs_f64());
        let decoded = decoded?;
        let started = Instant::now();
        let pcm = audio::resample::to_whisper_input(decoded);
        metrics_app
            .metrics
            .processing_duration
            .observe(started.elapsed().as_secs_f64());
        pcm
    });
    job.await
        .map_err(|e| ApiError::InferenceFailed(e.to_string()))?
        .map_err(|e| match e {
            AudioError::Unsupported(m) => ApiError::UnsupportedFormat(m),
            AudioError::Corrupt(m) => ApiError::DecodeFailed(m),
            AudioError::TooLong { limit_seconds } => ApiError::AudioTooLong {
                limit: limit_seconds,
            },
            AudioError::Resample(m) => ApiError::InferenceFailed(m),
        })
}
