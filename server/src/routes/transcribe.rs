//! `POST /v1/audio/transcriptions` and `/v1/audio/translations`.
//!
//! Stages: read the form → check its options against the model → the engine's front door
//! (`Engine::transcribe`: queue, slot, audio, threads, inference) → format the response, or
//! stream it as it is decoded (`stream`). Errors
//! become HTTP responses in one place (`From<InferError> for ApiError`); the request's own
//! counts are kept by `accounting`, around every layer; each stage's metrics where it is measured.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tracing::{info, warn};

use super::form::{self, AudioForm, Delivery};
use super::stream;
use crate::audio::{self, Upload};
use crate::engine::Engine;
use crate::engine::params::{self, TranscribeOptions};
use crate::engine::progress::ProgressSink;
use crate::engine::vad::{Chunking, VadSettings};
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

async fn handle(
    app: Arc<AppState>,
    endpoint: Endpoint,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    match transcribe(&app, endpoint, multipart).await {
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
    let form = form::read(
        multipart,
        app.limits.max_upload_bytes,
        app.limits.upload_pace,
    )
    .await?;
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
    let prepare = move || audio::load(upload, &audio_metrics);
    let limit = app.limits.inference_time;
    let format = match form.delivery {
        Delivery::Whole(format) => format,
        Delivery::Stream { logprobs } => {
            return stream::respond(
                app.clone(),
                endpoint,
                logprobs,
                move |progress| async move {
                    engine.transcribe(prepare, options, limit, progress).await
                },
            )
            .await;
        }
    };
    let transcribed = engine
        .transcribe(prepare, options, limit, ProgressSink::none())
        .await?;

    let metrics = &app.metrics.requests;
    let format_started = Instant::now();
    let rendered = format::render(&transcribed.transcript, format, task);
    metrics.formatted(format_started.elapsed());
    metrics.transcribed(endpoint, transcribed.audio_seconds);
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
        vad: vad_settings(engine, form.chunking)?,
    })
}

/// The VAD settings a request decodes with: its `chunking_strategy`, else the server's default.
fn vad_settings(engine: &Engine, asked: Option<Chunking>) -> Result<Option<VadSettings>, ApiError> {
    match asked.unwrap_or_else(|| engine.default_chunking()) {
        Chunking::Whole => Ok(None),
        Chunking::Speech(_) if !engine.has_vad() => Err(ApiError::BadRequest(
            "chunking_strategy needs voice activity detection, and this server has no VAD \
             model: leave chunking_strategy out, or start the server with --vad-model"
                .into(),
        )),
        Chunking::Speech(settings) => Ok(Some(settings)),
    }
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
