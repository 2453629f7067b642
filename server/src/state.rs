//! Shared state of the running server.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::engine::{Engine, TimeLimit};
use crate::metrics::Metrics;
use crate::routes::form::UploadPace;

/// Per-request limits from the configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_upload_bytes: usize,
    pub max_audio_seconds: f64,
    pub inference_time: TimeLimit,
    pub upload_pace: UploadPace,
}

pub struct AppState {
    pub limits: Limits,
    pub metrics: Metrics,
    pub model_name: String,
    pub api_key: Option<String>,
    /// Set once the model is loaded (in the background, after the server listens).
    engine: OnceLock<Arc<Engine>>,
    draining: AtomicBool,
    /// Transcription requests being handled, from the first byte read to the response.
    active: AtomicUsize,
}

impl AppState {
    pub fn new(
        limits: Limits,
        metrics: Metrics,
        model_name: String,
        api_key: Option<String>,
    ) -> Self {
        Self {
            limits,
            metrics,
            model_name,
            api_key,
            engine: OnceLock::new(),
            draining: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        }
    }

    /// Publishes the loaded model; the server becomes ready.
    pub fn set_engine(&self, engine: Engine) {
        if self.engine.set(Arc::new(engine)).is_ok() {
            self.metrics.model_loaded.set(1);
        }
    }

    /// The loaded engine, `None` while the model is still loading.
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.engine.get().cloned()
    }

    pub fn is_model_loaded(&self) -> bool {
        self.engine.get().is_some()
    }

    pub fn is_ready(&self) -> bool {
        self.is_model_loaded() && !self.is_draining()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn active_requests(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    pub(crate) fn request_started(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn request_ended(&self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
    }
}
