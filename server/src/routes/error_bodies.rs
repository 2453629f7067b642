//! Error responses the framework makes itself (the router's 404 and 405, an extractor's
//! rejection) get the same OpenAI-shaped JSON body and reason as the API's own errors.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorReason};

/// Middleware: replaces a bodiless error response with its `ApiError`.
pub async fn json_error_bodies(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<ErrorReason>().is_some()
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let mut answer = ApiError::for_bare_response(status, &method, &path).into_response();
    // Keep what the framework said beyond the body, e.g. 405's `Allow`.
    for (name, value) in answer.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts
        .extensions
        .extend(std::mem::take(answer.extensions_mut()));
    Response::from_parts(parts, std::mem::take(answer.body_mut()))
}
