//! The axum router: every route and layer, built from shared state. Tests use it in-process.
//! Layers, outermost first: request accounting, JSON error bodies, `Connection: close` while
//! draining, the API key, the body limit.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::routes::{TRANSCRIPTIONS_PATH, TRANSLATIONS_PATH, health, models, page, transcribe};
use crate::state::AppState;

/// Room for the multipart framing and text fields around the file.
const FORM_OVERHEAD_BYTES: usize = 256 * 1024;

pub fn app(state: Arc<AppState>) -> Router {
    let body_limit = state
        .limits
        .max_upload_bytes
        .saturating_add(FORM_OVERHEAD_BYTES);
    Router::new()
        .route("/", get(page::index))
        .route(TRANSCRIPTIONS_PATH, post(transcribe::transcriptions))
        .route(TRANSLATIONS_PATH, post(transcribe::translations))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{id}", get(models::get))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_key,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::shutdown::close_connections_when_draining,
        ))
        .layer(axum::middleware::from_fn(
            crate::routes::error_bodies::json_error_bodies,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::routes::accounting::count_requests,
        ))
        .with_state(state)
}
