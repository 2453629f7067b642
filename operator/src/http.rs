//! The operator's own HTTP endpoints: /metrics, /healthz (alive), /readyz (connected to the
//! API server and running the controller or standing by for the lease). They are served behind
//! the same HTTP edge as whisper-server (connection cap, head and keep-alive timers), so a slow or
//! greedy client of the metrics port cannot hold the operator's sockets.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::json;
use tokio::net::TcpListener;
use whisper_http_edge::{EdgeError, EdgeLimits, ErrorBody};

use crate::metrics::Metrics;

/// What the handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: Metrics,
    pub ready: Arc<AtomicBool>,
}

/// The router; served by the binary, tested in-process.
pub fn app(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Serves the endpoints on `listener` within `limits` until `shutdown` resolves, then lets open
/// connections finish their requests and close.
pub async fn serve(
    listener: TcpListener,
    state: HttpState,
    limits: EdgeLimits,
    shutdown: impl Future<Output = ()>,
) {
    whisper_http_edge::serve(listener, app(state), limits, edge_error_body, shutdown).await;
}

/// The body of an answer the edge gives itself (400, 414, 431, or 503 past the connection cap):
/// `{"error": {"message", "code"}}`.
fn edge_error_body(error: EdgeError) -> ErrorBody {
    let body = json!({"error": {"message": error.to_string(), "code": error.code()}});
    ErrorBody {
        content_type: "application/json",
        body: body.to_string().into_bytes(),
    }
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    match s.metrics.render() {
        Ok(text) => (StatusCode::OK, text),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn readyz(State(s): State<HttpState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get_status(app: Router, path: &str) -> (StatusCode, String) {
        let resp = app
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn readyz_follows_the_flag_and_metrics_are_served() {
        let state = HttpState {
            metrics: Metrics::new().expect("metrics"),
            ready: Arc::new(AtomicBool::new(false)),
        };
        let app = app(state.clone());
        assert_eq!(
            get_status(app.clone(), "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(get_status(app.clone(), "/healthz").await.0, StatusCode::OK);
        state.ready.store(true, Ordering::Relaxed);
        assert_eq!(get_status(app.clone(), "/readyz").await.0, StatusCode::OK);
        let (code, body) = get_status(app, "/metrics").await;
        assert_eq!(code, StatusCode::OK);
        assert!(
            body.contains("whisper_operator_reconciliations_total"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn unknown_path_is_404() {
        let state = HttpState {
            metrics: Metrics::new().expect("metrics"),
            ready: Arc::new(AtomicBool::new(true)),
        };
        assert_eq!(
            get_status(app(state), "/nope").await.0,
            StatusCode::NOT_FOUND
        );
    }
}
