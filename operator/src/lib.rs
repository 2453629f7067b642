//! whisper-operator: turns WhisperServices into running whisper-server Deployments and their
//! companions. `run_controller` is the whole controller, for the binary and for tests.

mod apply;
pub mod build;
pub mod catalogue;
pub mod config;
mod context;
mod controller;
pub mod discovery;
pub mod error;
mod finalizer;
pub mod http;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod pod_health;
mod reconcile;
pub mod status;
pub mod validate;

#[cfg(test)]
mod fixtures;

pub use config::Config;
pub use controller::{run_controller, run_controller_until};
