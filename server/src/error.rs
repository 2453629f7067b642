//! The one error type of the HTTP API: each variant maps to an HTTP status, an OpenAI-shaped JSON
//! body and a bounded `reason` label for `whisper_transcription_errors_total`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::audio::AudioError;
use crate::engine::{EngineError, InferError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedFormat(String),
    #[error("upload is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("audio is longer than the limit of {limit:.0} s")]
    AudioTooLong { limit: f64 },
    #[error("could not decode the audio: {0}")]
    DecodeFailed(String),
    #[error("missing or invalid API key; send it as 'Authorization: Bearer <key>'")]
    Unauthorized,
    #[error("server is busy: all inference slots and the wait queue are full; retry later")]
    QueueFull { retry_after_secs: u64 },
    #[error("transcription took longer than its time limit of {limit_secs:.0} s")]
    Timeout { limit_secs: f64 },
    #[error("client closed the connection")]
    ClientClosed,
    #[error("inference failed: {0}")]
    InferenceFailed(String),
    #[error("{0}")]
    NotReady(&'static str),
}

impl ApiError {
    /// Bounded label value for the errors counter.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::UnsupportedFormat(_) => "unsupported_format",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::AudioTooLong { .. } => "audio_too_long",
            Self::DecodeFailed(_) => "decode_failed",
            Self::Unauthorized => "unauthorized",
            Self::QueueFull { .. } => "queue_full",
            Self::Timeout { .. } => "timeout",
            Self::ClientClosed => "client_closed",
            Self::InferenceFailed(_) => "inference_failed",
            Self::NotReady(_) => "not_ready",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::DecodeFailed(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedFormat(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } | Self::AudioTooLong { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::QueueFull { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            // nginx's "client closed request": logged and counted, never seen by the client.
            Self::ClientClosed => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            Self::InferenceFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// OpenAI's `error.type`.
    fn kind(&self) -> &'static str {
        match self {
            Self::Unauthorized => "authentication_error",
            Self::QueueFull { .. } => "rate_limit_error",
            Self::Timeout { .. } | Self::InferenceFailed(_) | Self::NotReady(_) => "server_error",
            _ => "invalid_request_error",
        }
    }
}

/// The one boundary between the engine and HTTP: handlers use `?` on `Engine::transcribe`.
impl From<InferError> for ApiError {
    fn from(e: InferError) -> Self {
        match e {
            InferError::QueueFull { retry_after_secs } => Self::QueueFull { retry_after_secs },
            InferError::Audio(e) => e.into(),
            InferError::Timeout { limit } => Self::Timeout {
                limit_secs: limit.as_secs_f64(),
            },
            InferError::Engine(EngineError::Aborted) => Self::ClientClosed,
            InferError::Engine(e @ EngineError::Failed(_)) => Self::InferenceFailed(e.to_string()),
        }
    }
}

impl From<AudioError> for ApiError {
    fn from(e: AudioError) -> Self {
        match e {
            AudioError::Unsupported(m) => Self::UnsupportedFormat(m),
            AudioError::Corrupt(m) => Self::DecodeFailed(m),
            AudioError::TooLong { limit_seconds } => Self::AudioTooLong {
                limit: limit_seconds,
            },
            AudioError::Resample(m) => Self::InferenceFailed(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "message": self.to_string(),
                "type": self.kind(),
                "code": self.reason(),
            }
        });
        let mut response = (self.status(), Json(body)).into_response();
        if let Self::QueueFull { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        // These are answered before the body is read; hyper then drops the connection, so tell
        // the client not to reuse it.
        if matches!(self, Self::Unauthorized | Self::PayloadTooLarge { .. }) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_full_is_429_with_retry_after() {
        let response = ApiError::QueueFull {
            retry_after_secs: 3,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }

    #[test]
    fn engine_errors_map_to_their_http_status() {
        use std::time::Duration;
        let cases = [
            (
                InferError::QueueFull {
                    retry_after_secs: 2,
                },
                StatusCode::TOO_MANY_REQUESTS,
            ),
            (
                InferError::Audio(AudioError::Unsupported("x".into())),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                InferError::Audio(AudioError::Corrupt("x".into())),
                StatusCode::BAD_REQUEST,
            ),
            (
                InferError::Audio(AudioError::TooLong { limit_seconds: 1.0 }),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                InferError::Audio(AudioError::Resample("x".into())),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                InferError::Timeout {
                    limit: Duration::from_secs(3),
                },
                StatusCode::GATEWAY_TIMEOUT,
            ),
            (
                InferError::Engine(EngineError::Aborted),
                ApiError::ClientClosed.status(),
            ),
            (
                InferError::Engine(EngineError::Failed("x".into())),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (error, status) in cases {
            let shown = format!("{error:?}");
            assert_eq!(ApiError::from(error).status(), status, "{shown}");
        }
    }

    #[test]
    fn client_errors_are_4xx() {
        for error in [
            ApiError::BadRequest("x".into()),
            ApiError::UnsupportedFormat("x".into()),
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::AudioTooLong { limit: 1.0 },
            ApiError::DecodeFailed("x".into()),
            ApiError::Unauthorized,
        ] {
            assert!(error.status().is_client_error(), "{error:?}");
        }
    }
}
