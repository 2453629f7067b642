//! `GET /v1/models`: the one loaded model, in OpenAI's list shape.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::AppState;

fn model(id: &str) -> Value {
    json!({ "id": id, "object": "model", "created": 0, "owned_by": "whisper-server" })
}

pub async fn list(State(app): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({ "object": "list", "data": [model(&app.model_name)] }))
}

pub async fn get(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    if id == app.model_name {
        Json(model(&app.model_name)).into_response()
    } else {
        let body = json!({ "error": {
            "message": format!("no model named '{id}' is served here"),
            "type": "invalid_request_error",
            "code": "model_not_found",
        }});
        (StatusCode::NOT_FOUND, Json(body)).into_response()
    }
}
