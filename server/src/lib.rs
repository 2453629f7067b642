//! whisper-server library: everything but the binary entry point.
//!
//! A transcription request, stage by stage: `edge` (connection limits and timers) → `app` (router) → `auth` → `routes::form` →
//! `routes::transcribe` → `engine` (admission, seating, audio, window plan, staffing,
//! inference: `Engine::transcribe`) → `format`; `error` turns any failure into the HTTP answer.
//! server/README.md ("Inside") maps every stage to its file.

pub mod app;
pub mod audio;
pub mod auth;
pub mod commands;
pub mod config;
pub mod edge;
pub mod engine;
pub mod error;
pub mod format;
pub mod logging;
pub mod malloc_arenas;
pub mod metrics;
pub mod model;
pub mod routes;
pub mod serve;
pub mod shutdown;
pub mod state;
