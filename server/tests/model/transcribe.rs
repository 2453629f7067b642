//! The imported tiny.en really works: whisper.cpp (through whisper-rs) loads it and transcribes
//! a flite recording word for word. Needs flite and sox (scripts/install-deps.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tiny_en;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};
use whisper_server::model::{Weights, import_ct2_as, requantize};

const SENTENCE: &str = "Hello world. The quick brown fox jumps over the lazy dog.";
const EXPECTED: &str = "Hello world, the quick brown fox jumps over the lazy dog.";

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): run scripts/install-deps.sh"));
    assert!(status.success(), "{program} {args:?} failed: {status}");
}

/// 16 kHz mono s16 samples of `SENTENCE` spoken by flite, as f32.
fn speech(dir: &Path) -> Vec<f32> {
    raw_samples(&flite_raw(dir, SENTENCE, &[]))
}

/// `text` spoken by flite, through sox's `effects`, as 16 kHz mono s16 raw samples in `dir`.
pub fn flite_raw(dir: &Path, text: &str, effects: &[&str]) -> PathBuf {
    let wav = dir.join("raw.wav");
    let raw = dir.join("speech.raw");
    let (w, r) = (wav.to_str().expect("utf-8"), raw.to_str().expect("utf-8"));
    run("flite", &["-voice", "rms", "-t", text, "-o", w]);
    let mut args = vec![
        w,
        "-r",
        "16000",
        "-c",
        "1",
        "-b",
        "16",
        "-e",
        "signed-integer",
        "-t",
        "raw",
        r,
    ];
    args.extend_from_slice(effects);
    run("sox", &args);
    raw
}

/// A raw 16 kHz mono s16 file's samples, as f32.
pub fn raw_samples(raw: &Path) -> Vec<f32> {
    std::fs::read(raw)
        .expect("read pcm")
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}

#[test]
fn imported_tiny_en_transcribes_flite_speech() {
    assert_eq!(import_and_transcribe(Weights::F16), EXPECTED);
}

/// ggml's q8_0 quantiser, run by the import: whisper.cpp loads the file and hears the same
/// words. 43,550,778 bytes, byte for byte what the gguf Python package's quantiser writes from
/// the f16 import (shared/reference/quantize_ggml.py).
#[test]
fn imported_tiny_en_q8_0_transcribes_flite_speech() {
    assert_eq!(import_and_transcribe(Weights::Q8_0), EXPECTED);
}

/// The same with q4_0 (`--weights q4_0`): ggml repacks these blocks for its integer matrix
/// kernels while whisper.cpp loads them, and the words are still the same.
#[test]
fn imported_tiny_en_q4_0_transcribes_flite_speech() {
    assert_eq!(import_and_transcribe(Weights::Q4_0), EXPECTED);
}

/// The server's load-time quantisation (`--weights q8_0`, its default) of the f16 import gives
/// the q8_0 import byte for byte, so it runs exactly the weights the test above hears; files
/// that are already q8_0 load as they are.
#[test]
fn quantising_the_f16_import_at_load_gives_the_q8_0_import() {
    let dir = tempfile::tempdir().expect("temp dir");
    let import = |weights: Weights| {
        let path = dir.path().join(format!("{weights:?}.bin"));
        import_ct2_as(&tiny_en::ct2_dir(), &path, weights).expect("import tiny.en");
        std::fs::read(&path).expect("read the import")
    };
    let (f16, q8_0) = (import(Weights::F16), import(Weights::Q8_0));
    let at_load = requantize(&f16, Weights::Q8_0)
        .expect("a valid f16 model")
        .expect("f16 matrices to quantise");
    assert_eq!(at_load.len(), q8_0.len());
    assert!(at_load == q8_0, "the bytes differ from the q8_0 import");
    assert!(matches!(requantize(&q8_0, Weights::Q8_0), Ok(None)));
}

/// Imports tiny.en with `weights`, checks the file's size, and transcribes flite's sentence.
fn import_and_transcribe(weights: Weights) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("ggml-tiny.en.bin");
    let summary = import_ct2_as(&tiny_en::ct2_dir(), &model, weights).expect("import tiny.en");
    let expected_bytes = match weights {
        Weights::F16 => 77_704_698,
        Weights::Q8_0 => 43_550_778,
        Weights::Q4_0 => 25_335_354,
    };
    assert_eq!(summary.bytes, expected_bytes, "{weights:?}");
    let samples = speech(dir.path());

    let ctx = WhisperContext::new_with_params(
        model.to_str().expect("utf-8 path"),
        WhisperContextParameters::default(),
    )
    .expect("whisper.cpp loads the imported model");
    let mut state = ctx.create_state().expect("state");
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    params.set_n_threads(2);
    params.set_language(Some("en"));
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_timestamps(false);
    state.full(params, &samples).expect("inference");

    let text: String = state
        .as_iter()
        .map(|segment| segment.to_str_lossy().expect("segment text").into_owned())
        .collect();
    text.trim().to_string()
}
