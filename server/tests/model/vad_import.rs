//! The Silero VAD importer on the ONNX model faster-whisper bundles: it writes the file
//! whisper.cpp's own converter writes for those weights, byte for byte, and whisper.cpp's VAD
//! running it finds speech where faster-whisper's VAD running the original ONNX does.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use whisper_rs::{WhisperVadContext, WhisperVadContextParams, WhisperVadParams};
use whisper_server::model::{faster_whisper_onnx, import_silero_vad};

use crate::tiny_en::home;
use crate::transcribe::{flite_raw, raw_samples};

/// SHA-256 of whisper.cpp's converter's output for faster-whisper 1.2.1's silero_vad_v6.onnx
/// (Silero 6.0.0), as computed by a reference writer that matches whisper.cpp's own
/// v6.2.0 test model byte for byte (docs/plans/silero-vad-import.md).
const FASTER_WHISPER_V6_GGML_SHA256: &str =
    "91af2d40eb04dc54292ff7f43238fc64715bea7d44ac911bbe6748b352a68c96";
const SAMPLE_RATE: f32 = 16_000.0;
/// whisper.cpp's default VAD settings, given to faster-whisper's VAD too.
const MIN_SILENCE_MS: u32 = 100;
const SPEECH_PAD_MS: u32 = 30;

fn venv() -> PathBuf {
    home().join(".cache/whisper-operator/venv-py1")
}

/// faster-whisper's bundled model: `WHISPER_TEST_SILERO_ONNX`, or the one in the venv of
/// `scripts/install-deps.sh`.
fn silero_onnx() -> PathBuf {
    if let Some(path) = std::env::var_os("WHISPER_TEST_SILERO_ONNX") {
        return PathBuf::from(path);
    }
    faster_whisper_onnx(&venv()).unwrap_or_else(|| {
        panic!(
            "faster-whisper's silero_vad_v6.onnx is not in {}: run scripts/install-deps.sh \
             (or set WHISPER_TEST_SILERO_ONNX)",
            venv().display()
        )
    })
}

/// Two flite sentences, each with a second of silence before it and two after, as 16 kHz s16.
fn two_utterances(dir: &Path) -> PathBuf {
    let sentence = "The quick brown fox jumps over the lazy dog.";
    flite_raw(dir, sentence, &["pad", "1", "2", "repeat", "1"])
}

/// Speech segments (seconds) whisper.cpp's VAD finds with the converted model.
fn whisper_cpp_segments(model: &Path, pcm: &[f32]) -> Vec<(f32, f32)> {
    let mut context_params = WhisperVadContextParams::new();
    context_params.set_n_threads(1);
    let mut vad = WhisperVadContext::new(model.to_str().expect("utf-8"), context_params)
        .expect("whisper.cpp loads the converted VAD model");
    let mut params = WhisperVadParams::new();
    params.set_min_silence_duration(MIN_SILENCE_MS as i32);
    params.set_speech_pad(SPEECH_PAD_MS as i32);
    vad.segments_from_samples(params, pcm)
        .expect("VAD runs")
        .map(|s| (s.start / 100.0, s.end / 100.0))
        .collect()
}

/// Speech segments (seconds) faster-whisper's VAD finds with the original ONNX model.
fn faster_whisper_segments(raw: &Path) -> Vec<(f32, f32)> {
    let script = format!(
        "import sys, numpy as np\n\
         from faster_whisper.vad import VadOptions, get_speech_timestamps\n\
         audio = np.fromfile(sys.argv[1], dtype='<i2').astype(np.float32) / 32768.0\n\
         options = VadOptions(min_silence_duration_ms={MIN_SILENCE_MS}, speech_pad_ms={SPEECH_PAD_MS})\n\
         for s in get_speech_timestamps(audio, options): print(s['start'], s['end'])\n"
    );
    let output = Command::new(venv().join("bin/python"))
        .args(["-c", &script])
        .arg(raw)
        .output()
        .expect("the venv's python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let mut parts = line
                .split_whitespace()
                .map(|v| v.parse::<f32>().expect("sample"));
            let (start, end) = (parts.next().expect("start"), parts.next().expect("end"));
            (start / SAMPLE_RATE, end / SAMPLE_RATE)
        })
        .collect()
}

/// Segments closer than `gap` seconds joined: the two detectors may split a sentence at
/// different short pauses.
fn joined(segments: &[(f32, f32)], gap: f32) -> Vec<(f32, f32)> {
    let mut out: Vec<(f32, f32)> = Vec::new();
    for &(start, end) in segments {
        match out.last_mut() {
            Some(last) if start - last.1 < gap => last.1 = end,
            _ => out.push((start, end)),
        }
    }
    out
}

#[test]
fn faster_whispers_silero_converts_to_the_file_whisper_cpps_converter_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("silero-v6.0.0.bin");
    let summary = import_silero_vad(&silero_onnx(), &output, None).expect("import");
    assert_eq!(summary.version, [6, 0, 0]);
    assert_eq!(summary.layout, "onnx-lstm");
    assert_eq!(summary.tensors, 15);
    let bytes = std::fs::read(&output).expect("read output");
    assert_eq!(bytes.len() as u64, summary.bytes);
    assert_eq!(
        format!("{:x}", Sha256::digest(&bytes)),
        FASTER_WHISPER_V6_GGML_SHA256
    );
}

/// faster-whisper's wheel as the package index serves it, which scripts/install-deps.sh keeps.
fn faster_whisper_wheel() -> PathBuf {
    let wheel =
        home().join(".cache/whisper-operator/downloads/faster_whisper-1.2.1-py3-none-any.whl");
    assert!(
        wheel.is_file(),
        "{} is missing: run scripts/install-deps.sh",
        wheel.display()
    );
    wheel
}

#[test]
fn the_wheel_itself_converts_to_the_same_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("silero-v6.0.0.bin");
    let summary = import_silero_vad(&faster_whisper_wheel(), &output, None).expect("import");
    assert_eq!(summary.version, [6, 0, 0]);
    let bytes = std::fs::read(&output).expect("read output");
    assert_eq!(
        format!("{:x}", Sha256::digest(&bytes)),
        FASTER_WHISPER_V6_GGML_SHA256
    );
    // A zip without Silero's model is refused by name.
    let other = dir.path().join("other.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&other).expect("create"));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("other/model.onnx", stored).expect("member");
    std::io::Write::write_all(&mut zip, b"not silero").expect("write");
    zip.finish().expect("finish");
    let error = import_silero_vad(&other, &dir.path().join("x.bin"), None).unwrap_err();
    assert!(error.to_string().contains("silero_vad_v6.onnx"), "{error}");
}

#[test]
fn the_converted_vad_finds_speech_where_faster_whispers_does_and_none_in_silence() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("silero.bin");
    import_silero_vad(&silero_onnx(), &model, None).expect("import");
    let raw = two_utterances(dir.path());
    let ours = joined(&whisper_cpp_segments(&model, &raw_samples(&raw)), 0.5);
    let theirs = joined(&faster_whisper_segments(&raw), 0.5);
    eprintln!("whisper.cpp: {ours:?}\nfaster-whisper: {theirs:?}");
    assert_eq!(ours.len(), 2, "two sentences, found {ours:?}");
    assert_eq!(ours.len(), theirs.len(), "{ours:?} against {theirs:?}");
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(
            (a.0 - b.0).abs() < 0.25 && (a.1 - b.1).abs() < 0.25,
            "{a:?} against {b:?}"
        );
    }
    let silence = vec![0.0; 8 * 16_000];
    assert!(whisper_cpp_segments(&model, &silence).is_empty());
}
