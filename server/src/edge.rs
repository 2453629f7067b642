//! The HTTP edge (the `whisper-http-edge` crate: the connection cap, head and keep-alive timers,
//! hyper's own error answers) with the API's errors: what the edge answers itself carries the
//! OpenAI-shaped JSON of the matching `ApiError`, like every other error of the API. The upload
//! pace is enforced where the body is read (`routes::form`).

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;
use whisper_http_edge::{EdgeError, ErrorBody};

pub use whisper_http_edge::EdgeLimits;

use crate::error::ApiError;

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests and close.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: EdgeLimits,
    shutdown: impl Future<Output = ()>,
) {
    whisper_http_edge::serve(listener, app, limits, json_body, shutdown).await;
}

impl From<EdgeError> for ApiError {
    fn from(error: EdgeError) -> Self {
        match error {
            EdgeError::MalformedRequest => Self::MalformedRequest,
            EdgeError::UriTooLong => Self::UriTooLong,
            EdgeError::HeadersTooLarge => Self::HeadersTooLarge,
            EdgeError::TooManyConnections => Self::TooManyConnections,
        }
    }
}

/// The API's JSON body for an error the edge answers itself.
fn json_body(error: EdgeError) -> ErrorBody {
    ErrorBody {
        content_type: "application/json",
        body: ApiError::from(error).body().to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edges_errors_are_the_apis_with_the_same_status_and_code() -> Result<(), serde_json::Error>
    {
        for error in [
            EdgeError::MalformedRequest,
            EdgeError::UriTooLong,
            EdgeError::HeadersTooLarge,
            EdgeError::TooManyConnections,
        ] {
            let api = ApiError::from(error);
            assert_eq!(api.status(), error.status(), "{error:?}");
            let rendered = json_body(error);
            assert_eq!(rendered.content_type, "application/json");
            let json: serde_json::Value = serde_json::from_slice(&rendered.body)?;
            assert_eq!(json["error"]["code"], error.code(), "{error:?}");
            assert_eq!(json["error"]["message"], api.to_string(), "{error:?}");
        }
        Ok(())
    }
}
