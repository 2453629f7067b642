//! The errors the edge answers itself, before any route runs, and how they get a body. The edge
//! knows their status; the caller knows the body its clients expect (an API's JSON error, say),
//! so it passes a `RenderError` to `serve`.

use std::fmt;

use axum::http::StatusCode;

/// An answer the edge gives itself: one of hyper's parse errors, or the connection cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeError {
    /// Not a valid HTTP/1.1 request: 400.
    MalformedRequest,
    /// A request URI over hyper's 64 KiB: 414.
    UriTooLong,
    /// A request head over hyper's buffer or header count: 431.
    HeadersTooLarge,
    /// A connection past `EdgeLimits::max_connections`: 503, with `Retry-After: 1`.
    TooManyConnections,
}

impl EdgeError {
    pub fn status(self) -> StatusCode {
        match self {
            Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::TooManyConnections => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A stable, machine-readable name, for an error body's `code`.
    pub fn code(self) -> &'static str {
        match self {
            Self::MalformedRequest => "malformed_request",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "headers_too_large",
            Self::TooManyConnections => "too_many_connections",
        }
    }
}

impl fmt::Display for EdgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MalformedRequest => "the request is not valid HTTP/1.1",
            Self::UriTooLong => "the request URI is too long",
            Self::HeadersTooLarge => "the request headers are too large or too many",
            Self::TooManyConnections => "the server has too many open connections; retry later",
        })
    }
}

impl std::error::Error for EdgeError {}

/// The body of an error answer, and its `content-type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The caller's rendering of an edge error, called once for each such answer.
pub type RenderError = fn(EdgeError) -> ErrorBody;
