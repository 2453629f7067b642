//! The one-shot subcommands: model and VAD import, and verified download (used by init
//! containers).

use std::path::Path;

use anyhow::Context;
use tracing::info;

use crate::model::{FetchOutcome, Weights, fetch_model, import_ct2_as, import_silero_vad};

pub fn import(input: &Path, output: &Path, weights: Weights) -> anyhow::Result<()> {
    let summary = import_ct2_as(input, output, weights)
        .with_context(|| format!("importing {} failed", input.display()))?;
    info!(
        output = %output.display(),
        tensors = summary.tensors,
        vocab_tokens = summary.vocab_tokens,
        bytes = summary.bytes,
        ?weights,
        "CTranslate2 model imported to ggml"
    );
    Ok(())
}

pub fn import_vad(input: &Path, output: &Path, version: Option<[usize; 3]>) -> anyhow::Result<()> {
    let summary = import_silero_vad(input, output, version)
        .with_context(|| format!("importing {} failed", input.display()))?;
    info!(
        output = %output.display(),
        version = ?summary.version,
        layout = summary.layout,
        tensors = summary.tensors,
        bytes = summary.bytes,
        "Silero VAD imported to ggml"
    );
    Ok(())
}

pub fn fetch(url: &str, sha256: &str, output: &Path) -> anyhow::Result<()> {
    match fetch_model(url, sha256, output).context("model download failed")? {
        FetchOutcome::AlreadyPresent => {
            info!(output = %output.display(), "model already present and verified")
        }
        FetchOutcome::Downloaded { bytes } => {
            info!(output = %output.display(), bytes, "model downloaded and verified")
        }
    }
    Ok(())
}
