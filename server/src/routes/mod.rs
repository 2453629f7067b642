//! HTTP routes, and the layers around them that see every request: accounting, error bodies.

pub mod accounting;
pub mod chunking;
pub mod error_bodies;
pub mod form;
pub mod health;
pub mod models;
pub mod page;
pub mod stream;
pub mod transcribe;

use crate::metrics::Endpoint;

pub const TRANSCRIPTIONS_PATH: &str = "/v1/audio/transcriptions";
pub const TRANSLATIONS_PATH: &str = "/v1/audio/translations";

/// The transcription endpoint a path belongs to, if any (for metric labels).
pub fn endpoint_of(path: &str) -> Option<Endpoint> {
    match path {
        TRANSCRIPTIONS_PATH => Some(Endpoint::Transcriptions),
        TRANSLATIONS_PATH => Some(Endpoint::Translations),
        _ => None,
    }
}
