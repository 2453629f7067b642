//! The real-speech corpus scripts/fetch-speech-corpus.sh builds (42 clips: LibriVox, card
//! names, digits, telephone prompts) and the model, found the way CI provides them.

use std::io::Cursor;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The first existing file among the env var and the default locations, or a clear panic.
pub fn find_file(env: &str, defaults: &[PathBuf], how_to_get: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env).map(PathBuf::from) {
        assert!(path.is_file(), "${env} = {} is not a file", path.display());
        return path;
    }
    defaults
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("{how_to_get} (or set ${env}); looked in {defaults:?}"))
}

pub fn model() -> PathBuf {
    let cache = home().join(".cache/whisper-operator");
    find_file(
        "WHISPER_TEST_MODEL",
        &[
            cache.join("models/ggml-tiny.en.bin"),
            cache.join("dev/ggml-tiny.en.reference.bin"),
        ],
        "no tiny.en model: run scripts/fetch-model.sh",
    )
}

/// The multilingual base model (Spanish and French need it; tiny.en is English only).
pub fn base_model() -> PathBuf {
    find_file(
        "WHISPER_TEST_BASE_MODEL",
        &[home().join(".cache/whisper-operator/models/ggml-base.bin")],
        "no base model: run scripts/fetch-model.sh base",
    )
}

fn manifest() -> PathBuf {
    find_file(
        "WHISPER_SPEECH_MANIFEST",
        &[home().join(".cache/whisper-operator/speech-corpus-v1/manifest.tsv")],
        "no real-speech corpus: run scripts/fetch-speech-corpus.sh",
    )
}

pub struct Utterance {
    pub wav: PathBuf,
    pub reference: String,
}

/// Every utterance of the corpus, in manifest order.
pub fn utterances() -> Vec<Utterance> {
    let path = manifest();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let utterances: Vec<Utterance> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (wav, reference) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("manifest line without a tab: {line:?}"));
            Utterance {
                wav: PathBuf::from(wav),
                reference: reference.to_string(),
            }
        })
        .collect();
    assert!(
        utterances.len() >= 40,
        "{} holds {} utterances; rebuild it with scripts/fetch-speech-corpus.sh",
        path.display(),
        utterances.len()
    );
    utterances
}

/// Several utterances played one after the other, as one WAV file, with where each one is.
pub struct Recording {
    pub wav: Vec<u8>,
    pub seconds: f64,
    /// (span in seconds, reference text) of each utterance, in order.
    pub utterances: Vec<(Range<f64>, String)>,
}

const RATE: u32 = 16_000;

fn read_samples(path: &Path) -> Vec<i16> {
    let reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    assert!(
        spec.channels == 1 && spec.sample_rate == RATE && spec.bits_per_sample == 16,
        "{}: expected the corpus's 16 kHz mono 16-bit WAV, got {spec:?}",
        path.display()
    );
    reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The corpus's utterances joined in manifest order until the recording lasts `at_least` s:
/// one long real recording whose words and their times are known.
pub fn long_recording(at_least: f64) -> Recording {
    let mut samples: Vec<i16> = Vec::new();
    let mut spans = Vec::new();
    for utterance in utterances() {
        let start = samples.len() as f64 / f64::from(RATE);
        samples.extend(read_samples(&utterance.wav));
        let end = samples.len() as f64 / f64::from(RATE);
        spans.push((start..end, utterance.reference));
        if end >= at_least {
            break;
        }
    }
    let seconds = samples.len() as f64 / f64::from(RATE);
    assert!(seconds >= at_least, "the corpus holds only {seconds:.0} s");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut wav, spec).expect("an in-memory WAV writer");
    for sample in samples {
        writer.write_sample(sample).expect("writing to memory");
    }
    writer.finalize().expect("finishing an in-memory WAV");
    Recording {
        wav: wav.into_inner(),
        seconds,
        utterances: spans,
    }
}
