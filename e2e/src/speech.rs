//! Test speech from flite and sox (Debian packages), which tiny.en transcribes exactly.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::error::{E2eError, Result};

/// What the speech says.
pub const TEXT: &str = "Hello world. The quick brown fox jumps over the lazy dog.";

/// Writes `dir/speech.wav` (16 kHz mono 16-bit) and returns its path.
pub async fn synthesize(dir: &Path) -> Result<PathBuf> {
    let raw = dir.join("raw.wav");
    let wav = dir.join("speech.wav");
    let raw_s = raw.display().to_string();
    let wav_s = wav.display().to_string();
    run("flite", &["-voice", "rms", "-t", TEXT, "-o", &raw_s]).await?;
    run(
        "sox",
        &[&raw_s, "-r", "16000", "-c", "1", "-b", "16", &wav_s],
    )
    .await?;
    Ok(wav)
}

async fn run(program: &str, args: &[&str]) -> Result<()> {
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|source| E2eError::Spawn {
            command: command.clone(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(E2eError::Command {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
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
