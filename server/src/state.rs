//! Shared state of the running server.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::engine::Engine;
use crate::metrics::Metrics;

/// Per-request limits from the configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_upload_bytes: usize,
    pub max_audio_seconds: f64,
    pub timeout_base_seconds: f64,
    pub timeout_per_audio_second: f64,
}

impl Limits {
    /// The inference time limit for a clip: it grows with the audio.
    pub fn timeout_for(&self, audio_seconds: f64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(
            (self.timeout_base_seconds + self.timeout_per_audio_second * audio_seconds).max(0.001),
        )
    }
}

pub struct AppState {
    pub limits: Limits,
    pub metrics: Metrics,
    pub model_name: String,
    pub api_key: Option<String>,
    engine: OnceLock<Engine>,
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
        self.metrics.slots.set(engine.pool().slots() as i64);
        self.metrics
            .thread_budget
            .set(engine.threads().budget() as i64);
        if self.engine.set(engine).is_ok() {
            self.metrics.model_loaded.set(1);
        }
    }

    pub fn engine(&self) -> Option<&Engine> {
        self.engine.get()
    }

    pub fn is_ready(&self) -> bool {
        self.engine.get().is_some() && !self.draining.load(Ordering::Acquire)
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
