//! Real speech fixtures from flite + sox + ffmpeg, generated once into the target dir and the
//! tiny.en model, found where the project's scripts put it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// What every fixture says, and what tiny.en transcribes it as.
pub const SENTENCE: &str = "Hello world. The quick brown fox jumps over the lazy dog.";
pub const EXPECTED: &str = "Hello world, the quick brown fox jumps over the lazy dog.";

/// The ggml tiny.en model: $WHISPER_TEST_MODEL, else CI's path, else the developer's.
pub fn model() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let candidates = [
        std::env::var_os("WHISPER_TEST_MODEL").map(PathBuf::from),
        Some(home.join(".cache/whisper-operator/models/ggml-tiny.en.bin")),
        Some(home.join(".cache/whisper-operator/dev/ggml-tiny.en.reference.bin")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no tiny.en model found: run scripts/fetch-model.sh \
                 (or set WHISPER_TEST_MODEL to a ggml model file)"
            )
        })
}

/// A second sentence, for recordings that need two different ones.
pub const SECOND_SENTENCE: &str = "The juice of lemons makes fine punch.";

/// Silero VAD in whisper.cpp's format, converted once by the project's importer from the model
/// faster-whisper bundles (`WHISPER_TEST_SILERO_ONNX`, or the venv of scripts/install-deps.sh).
pub fn vad_model() -> PathBuf {
    let _lock = GENERATING.lock().unwrap_or_else(|p| p.into_inner());
    let out = dir().join("ggml-silero-v6.0.0.bin");
    if out.is_file() {
        return out;
    }
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/whisper-operator/venv-py1");
    let onnx = std::env::var_os("WHISPER_TEST_SILERO_ONNX")
        .map(PathBuf::from)
        .or_else(|| whisper_server::model::faster_whisper_onnx(&venv))
        .unwrap_or_else(|| {
            panic!(
                "no faster-whisper silero_vad_v6.onnx in {}: run scripts/install-deps.sh",
                venv.display()
            )
        });
    whisper_server::model::import_silero_vad(&onnx, &out, None)
        .unwrap_or_else(|e| panic!("cannot import the VAD model: {e}"));
    out
}

fn dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("whisper-server-fixtures");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Instrumental music without words, as Debian packages it.
const MUSIC: &str = "/usr/share/asterisk/moh/macroform-cold_day.wav";

static GENERATING: Mutex<()> = Mutex::new(());

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (install it: flite, sox, ffmpeg): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Path of a fixture, generating it (and what it derives from) on first use.
pub fn path(name: &str) -> PathBuf {
    let _lock = GENERATING.lock().unwrap_or_else(|p| p.into_inner());
    generate(name)
}

fn generate(name: &str) -> PathBuf {
    let out = dir().join(name);
    if out.is_file() {
        return out;
    }
    let tmp = dir().join(format!("tmp-{name}"));
    let t = tmp.to_str().unwrap_or_else(|| panic!("non-UTF-8 path"));
    let source = |n: &str| generate(n).to_string_lossy().into_owned();
    let ffmpeg = |codec_args: &[&str]| {
        let input = source("speech.wav");
        let mut args = vec!["-y", "-loglevel", "error", "-i", input.as_str()];
        args.extend_from_slice(codec_args);
        args.push(t);
        run("ffmpeg", &args);
    };
    match name {
        "raw.wav" => run("flite", &["-voice", "rms", "-t", SENTENCE, "-o", t]),
        "speech.wav" => to_whisper_wav(&[&source("raw.wav")], t, &[]),
        "raw_second.wav" => run("flite", &["-voice", "rms", "-t", SECOND_SENTENCE, "-o", t]),
        "second.wav" => to_whisper_wav(&[&source("raw_second.wav")], t, &[]),
        "pause_silence.wav" => to_whisper_wav(&["-n"], t, &["trim", "0", "6"]),
        "pause_noise.wav" => to_whisper_wav(
            &["-R", "-n"],
            t,
            &["synth", "6", "pinknoise", "vol", "0.05"],
        ),
        // Both sentences with long pauses: 6 s of silence before the first, then 6 s of quiet
        // noise and 6 s of silence before the second (PAUSED_SPEECH has where each is said).
        "paused.wav" => {
            let (silence, noise) = (source("pause_silence.wav"), source("pause_noise.wav"));
            let (first, second) = (source("speech.wav"), source("second.wav"));
            run("sox", &[&silence, &first, &noise, &silence, &second, t]);
        }
        // Over a minute: the sentence eight times, each after 6 s of silence or noise, so the
        // speech alone still needs windows.
        "paused_long.wav" => {
            let (silence, noise) = (source("pause_silence.wav"), source("pause_noise.wav"));
            let first = source("speech.wav");
            let mut args: Vec<&str> = Vec::new();
            for i in 0..8 {
                args.push(if i % 2 == 0 { &silence } else { &noise });
                args.push(&first);
            }
            args.push(t);
            run("sox", &args);
        }
        "speech.flac" => run("sox", &[&source("speech.wav"), "-t", "flac", t]),
        "speech_8k_stereo.wav" => run("sox", &[&source("speech.wav"), "-r", "8000", "-c", "2", t]),
        "speech_float.wav" => run(
            "sox",
            &[
                &source("speech.wav"),
                "-e",
                "floating-point",
                "-b",
                "32",
                "-r",
                "44100",
                t,
            ],
        ),
        "speech_24bit.wav" => run(
            "sox",
            &[&source("speech.wav"), "-b", "24", "-r", "48000", t],
        ),
        "speech.mp3" => ffmpeg(&["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"]),
        "speech.ogg" => ffmpeg(&["-c:a", "libvorbis", "-f", "ogg"]),
        "speech.opus" => ffmpeg(&["-c:a", "libopus", "-f", "ogg"]),
        "speech.m4a" => ffmpeg(&["-c:a", "aac", "-f", "mp4"]),
        // 27 s: one whisper window (two windows by default: --windows-from-seconds), in flight
        // long enough to read gauges while it decodes.
        "half_minute.wav" => {
            let one = source("speech.wav");
            let mut args: Vec<&str> = std::iter::repeat_n(one.as_str(), 6).collect();
            args.push(t);
            run("sox", &args);
        }
        // About two minutes of speech: long enough to interrupt mid-inference.
        "long.wav" => {
            let one = source("speech.wav");
            let mut args: Vec<&str> = std::iter::repeat_n(one.as_str(), 32).collect();
            args.push(t);
            run("sox", &args);
        }
        // No words at all: digital silence, quiet pink noise (sox's generator, seeded so every
        // run hears the same noise) and 20 s of instrumental music from Debian's
        // asterisk-moh-opsound-wav (scripts/install-deps.sh installs it).
        "silence.wav" => to_whisper_wav(&["-n"], t, &["trim", "0", "8"]),
        "pink_noise.wav" => to_whisper_wav(
            &["-R", "-n"],
            t,
            &["synth", "8", "pinknoise", "vol", "0.05"],
        ),
        "music.wav" => to_whisper_wav(&[MUSIC], t, &["trim", "30", "20"]),
        other => panic!("unknown fixture {other}"),
    }
    std::fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("cannot move {t}: {e}"));
    out
}

/// sox from `inputs` to a 16 kHz mono 16-bit WAV at `out`, through `effects`.
fn to_whisper_wav(inputs: &[&str], out: &str, effects: &[&str]) {
    let mut args = inputs.to_vec();
    args.extend(["-r", "16000", "-c", "1", "-b", "16", out]);
    args.extend(effects);
    run("sox", &args);
}

pub fn bytes(name: &str) -> Vec<u8> {
    let p = path(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Lowercase words without punctuation, to compare transcripts.
pub fn normalise(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
