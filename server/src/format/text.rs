//! `text`: the transcript alone.

use crate::engine::transcript::Transcript;

pub fn render(transcript: &Transcript) -> String {
    format!("{}\n", transcript.text())
}
