//! HTTP API tests with the real tiny.en model and real (synthesised) speech: against in-process
//! servers on 127.0.0.1, and against the built binary as a process (`process`).

mod bad_input;
mod concurrency;
mod edge;
mod fixtures;
mod metrics;
mod no_speech;
mod process;
mod server;
mod streaming;
mod timeout;
mod transcription;
mod vad;
