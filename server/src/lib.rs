//! whisper-server library: everything but the binary entry point.

pub mod app;
pub mod audio;
pub mod auth;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub mod format;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod routes;
pub mod serve;
pub mod shutdown;
pub mod state;
