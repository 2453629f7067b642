//! Bare whisper-rs inference, no HTTP: the baseline the server's overhead is measured against,
//! and the test bench for levers the server does not expose (audio context fitted to the clip).
//!
//! It decodes audio and builds decoding parameters with the server's own code, so the only
//! difference from the server is HTTP and the levers set here. Long-lived on purpose: it reads
//! one audio path per line on stdin and answers one JSON line per clip on stdout, so a harness
//! can interleave it with other engines without reloading the model.
//!
//! cargo run --release -p whisper-server --example bench_inference -- \
//!     --model ggml-tiny.en.bin --threads 2 [--audio-ctx-margin 64] < paths.txt

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use whisper_rs::{WhisperContext, WhisperContextParameters, WhisperState};
use whisper_server::audio::{decode, resample, whisper_seconds};
use whisper_server::engine::fitted::{FULL_AUDIO_CTX, clip_frames};
use whisper_server::engine::{inference, parallel_windows, params, transcript, window_plan};

#[derive(Debug, Parser)]
struct Args {
    /// ggml Whisper model file.
    #[arg(long)]
    model: PathBuf,
    /// Inference threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Fit the encoder's audio context to the clip plus this many frames (20 ms each);
    /// without it the full 30 s context is used, as whisper.cpp and the server do.
    #[arg(long)]
    audio_ctx_margin: Option<usize>,
    /// Decode without timestamp tokens: whisper.cpp then reads each 30 s window once instead of
    /// seeking to the last timestamp, which a cut audio context otherwise turns into repeats.
    #[arg(long)]
    no_timestamps: bool,
    /// Decode audio over 30 s as pause-aligned windows on this many whisper states at once,
    /// the threads shared between them (the server's parallel windows); 1 = whisper.cpp's own
    /// sequential windowing.
    #[arg(long, default_value_t = 1)]
    parallel_states: usize,
    /// Decode in this language (ISO-639-1), as a request's `language` field does; without it,
    /// the server's default (English on an English-only model, detection on a multilingual one).
    #[arg(long)]
    language: Option<String>,
}

/// Encoder frames for a clip of `samples` plus `margin`, capped at the full context. Unlike the
/// server's `fitted::audio_ctx` it applies no saving threshold and does not round up to 16
/// frames, so the margins measured here (docs/benchmarks.md) are exactly the ones named.
fn fitted_audio_ctx(samples: usize, margin: usize) -> usize {
    (clip_frames(samples) + margin).min(FULL_AUDIO_CTX)
}

fn load_pcm(path: &Path) -> anyhow::Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let audio = decode::decode(bytes, f64::INFINITY)?;
    Ok(resample::to_whisper_input(audio)?)
}

/// What `transcribe` needs to know of the loaded model.
struct Model {
    eot: i32,
    language: Option<&'static str>,
}

/// What the server does for a request that names no options.
fn default_options(model: &Model) -> params::TranscribeOptions {
    params::TranscribeOptions {
        language: model.language,
        ..Default::default()
    }
}

/// Transcribes one clip on several states in parallel windows, as the server does for long
/// audio; returns (inference seconds, text).
fn transcribe_windowed(
    states: &mut [WhisperState],
    model: &Model,
    threads: usize,
    pcm: &[f32],
) -> anyhow::Result<(f64, String)> {
    let options = default_options(model);
    let abort = AtomicBool::new(false);
    let workers = states.len();
    let states: Vec<(&mut WhisperState, usize)> = states
        .iter_mut()
        .zip(parallel_windows::share(threads, workers))
        .collect();
    let info = inference::ModelInfo { eot: model.eot };
    let started = Instant::now();
    let max = window_plan::MAX_WINDOW_SAMPLES;
    let plan = window_plan::plan(
        pcm,
        window_plan::count_for_workers(pcm.len(), workers, max),
        max,
        &[],
    );
    // Full audio context in every window: the bare baseline has no fitted context.
    let transcript = parallel_windows::decode_windows(
        states,
        pcm,
        &plan,
        &abort,
        &parallel_windows::Staffing::fixed(),
        |(state, t), window| inference::run(state, info, *t, window, &options, &abort, None),
        &|_, _| {},
    )?;
    Ok((started.elapsed().as_secs_f64(), transcript.text()))
}

/// Transcribes one clip; returns (inference seconds, audio context used, text).
fn transcribe(
    state: &mut WhisperState,
    model: &Model,
    args: &Args,
    pcm: &[f32],
) -> anyhow::Result<(f64, usize, String)> {
    let options = default_options(model);
    let abort = AtomicBool::new(false);
    let mut full = params::full_params(&options, args.threads, &abort, true);
    let audio_ctx = args
        .audio_ctx_margin
        .map_or(FULL_AUDIO_CTX, |m| fitted_audio_ctx(pcm.len(), m));
    if args.audio_ctx_margin.is_some() {
        full.set_audio_ctx(i32::try_from(audio_ctx)?);
    }
    full.set_no_timestamps(args.no_timestamps);
    let started = Instant::now();
    state.full(full, pcm)?;
    let text = transcript::read(
        state,
        model.eot,
        whisper_seconds(pcm.len()),
        options.language,
        false,
    )
    .text();
    Ok((started.elapsed().as_secs_f64(), audio_ctx, text))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.threads == 0 {
        bail!("--threads must be at least 1");
    }
    whisper_rs::install_logging_hooks();
    let context = WhisperContext::new_with_params(&args.model, WhisperContextParameters::default())
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    let mut states = (0..args.parallel_states.max(1))
        .map(|_| context.create_state())
        .collect::<Result<Vec<_>, _>>()?;
    let language = match args.language.as_deref() {
        Some(code) => Some(
            whisper_rs::get_lang_id(code)
                .and_then(whisper_rs::get_lang_str)
                .with_context(|| format!("unknown language '{code}'"))?,
        ),
        None => params::default_language(context.is_multilingual()),
    };
    let model = Model {
        eot: context.token_eot(),
        language,
    };
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let path = Path::new(line.trim());
        if path.as_os_str().is_empty() {
            continue;
        }
        let pcm = load_pcm(path)?;
        let (seconds, audio_ctx, text) = if states.len() > 1 {
            let (seconds, text) = transcribe_windowed(&mut states, &model, args.threads, &pcm)?;
            (seconds, FULL_AUDIO_CTX, text)
        } else {
            transcribe(&mut states[0], &model, &args, &pcm)?
        };
        let record = serde_json::json!({
            "path": path,
            "seconds": seconds,
            "audio_seconds": whisper_seconds(pcm.len()),
            "audio_ctx": audio_ctx,
            "threads": args.threads,
            "parallel_states": states.len(),
            "text": text,
        });
        writeln!(out, "{record}")?;
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fitted_audio_ctx;

    #[test]
    fn audio_ctx_covers_the_clip_plus_margin_and_never_exceeds_30_s() {
        assert_eq!(fitted_audio_ctx(16_000, 64), 50 + 64);
        assert_eq!(fitted_audio_ctx(16_001, 0), 51);
        assert_eq!(fitted_audio_ctx(16_000 * 60, 64), 1500);
    }
}
