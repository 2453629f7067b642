//! whisper-operator: turns WhisperServices into running whisper-server Deployments and their
//! companions. `run_controller` is the whole controller, for the binary and for tests.
//!
//! A reconcile (`reconcile.rs`) reads as its modules, in the order the data flows:
//! `validate` → `build` → `apply` → `status`. `controller` wires it to the watches, which `wake`
//! filters to the changes that matter; `finalizer`
//! removes what garbage collection cannot reach; the rest are what those stages share.
//!
//! Unit tests sit in a `tests` module beside the code: inline when short, in
//! `<module>/tests.rs` when longer than the code they test. The cluster suites, which need a
//! real API server, are `tests/cluster_*.rs`.

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
mod reconcile;
pub mod status;
pub mod validate;
pub mod wake;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod generated_specs;

pub use config::Config;
pub use controller::{run_controller, run_controller_until};
