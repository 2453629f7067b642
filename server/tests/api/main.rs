//! HTTP API tests against in-process servers on 127.0.0.1, with the real tiny.en model and real
//! (synthesised) speech.

mod bad_input;
mod concurrency;
mod fixtures;
mod metrics;
mod server;
mod timeout;
mod transcription;
