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
    #[error(
        "the upload arrived too slowly: it must be complete within {timeout_secs:.0} s plus 1 s per {min_rate} bytes received"
    )]
    UploadTooSlow { timeout_secs: f64, min_rate: u64 },
    #[error("no such endpoint: {method} {path}")]
    NotFound { method: String, path: String },
    #[error("{path} does not accept {method}")]
    MethodNotAllowed { method: String, path: String },
    #[error("the request URI is too long")]
    UriTooLong,
    #[error("the request headers are too large or too many")]
    HeadersTooLarge,
    #[error("the request is not valid HTTP/1.1")]
    MalformedRequest,
    #[error("the server has too many open connections; retry later")]
    TooManyConnections,
    /// An error response the framework made without a body, kept with its status.
    #[error("{message}")]
    Other { status: StatusCode, message: String },
}

/// Carried by every error response this type makes, so the layers outside the handler know the
/// response already has the JSON body, and what reason to count.
#[derive(Debug, Clone, Copy)]
pub struct ErrorReason(pub &'static str);

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
            Self::UploadTooSlow { .. } => "upload_timeout",
            Self::NotFound { .. } => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "headers_too_large",
            Self::MalformedRequest => "malformed_request",
            Self::TooManyConnections => "too_many_connections",
            Self::Other { status, .. } if status.is_server_error() => "internal_error",
            Self::Other { .. } => "bad_request",
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
            Self::NotReady(_) | Self::TooManyConnections => StatusCode::SERVICE_UNAVAILABLE,
            Self::UploadTooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::Other { status, .. } => *status,
        }
    }

    /// OpenAI's `error.type`.
    fn kind(&self) -> &'static str {
        match self {
            Self::Unauthorized => "authentication_error",
            Self::QueueFull { .. } => "rate_limit_error",
            Self::Timeout { .. }
            | Self::InferenceFailed(_)
            | Self::NotReady(_)
            | Self::TooManyConnections => "server_error",
            Self::Other { status, .. } if status.is_server_error() => "server_error",
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
            AudioError::Corrupt(m) | AudioError::Implausible(m) => Self::DecodeFailed(m),
            AudioError::TooLong { limit_seconds } => Self::AudioTooLong {
                limit: limit_seconds,
            },
            AudioError::Resample(m) => Self::InferenceFailed(m),
        }
    }
}

impl ApiError {
    /// The OpenAI-shaped body: `{"error": {"message", "type", "code"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.to_string(),
                "type": self.kind(),
                "code": self.reason(),
            }
        })
    }

    /// The error for a bodiless error response the framework made (404, 405, 413 and so on).
    pub fn for_bare_response(status: StatusCode, method: &str, path: &str) -> Self {
        let (method, path) = (method.to_string(), path.chars().take(200).collect());
        match status {
            StatusCode::NOT_FOUND => Self::NotFound { method, path },
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed { method, path },
            StatusCode::URI_TOO_LONG => Self::UriTooLong,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Self::HeadersTooLarge,
            status => Self::Other {
                status,
                message: status
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_string(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        response.extensions_mut().insert(ErrorReason(self.reason()));
        if let Self::QueueFull { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        // These are answered before the body is read; hyper then drops the connection, so tell
        // the client not to reuse it.
        if matches!(
            self,
            Self::Unauthorized | Self::PayloadTooLarge { .. } | Self::UploadTooSlow { .. }
        ) {
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
