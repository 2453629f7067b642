//! whisper-server library: everything but the binary entry point.

pub mod model;
