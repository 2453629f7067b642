//! Test speech from flite and sox (Debian packages), which tiny.en transcribes exactly.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::tool;

/// What the speech says.
pub const TEXT: &str = "Hello world. The quick brown fox jumps over the lazy dog.";

/// Writes `dir/speech.wav` (16 kHz mono 16-bit) and returns its path.
pub async fn synthesize(dir: &Path) -> Result<PathBuf> {
    let raw = dir.join("raw.wav");
    let wav = dir.join("speech.wav");
    let raw_s = raw.display().to_string();
    let wav_s = wav.display().to_string();
    tool::run_local(
        Path::new("flite"),
        ["-voice", "rms", "-t", TEXT, "-o", &raw_s],
    )
    .await?;
    tool::run_local(
        Path::new("sox"),
        [&raw_s, "-r", "16000", "-c", "1", "-b", "16", &wav_s],
    )
    .await?;
    Ok(wav)
}

/// Lowercase letters and spaces only, so punctuation and case choices do not matter.
pub fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_ignores_case_and_punctuation() {
        assert_eq!(
            normalise("Hello world, the quick brown fox jumps over the lazy dog."),
            normalise(TEXT)
        );
    }
}
