//! The importer on the real tiny.en weights: structure always; byte-for-byte against the Python
//! reference converter's output where that development artifact exists.

use std::time::Instant;

use crate::ggml_reader::read_ggml;
use crate::tiny_en;
use sha2::{Digest, Sha256};
use whisper_server::model::import_ct2;

const TINY_EN_BYTES: u64 = 77_704_698;
/// SHA-256 of the Python reference converter's tiny.en output with the mel filter bank left out
/// (header, then vocabulary and tensors): pins every byte of the import but the computed floats.
const TINY_EN_SHA256_WITHOUT_MEL: &str =
    "e4605cacac2ac8f17c2a17c81b2863cba141572c0869fc39f1f1708508f01ce6";

fn import_tiny_en() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("ggml-tiny.en.bin");
    let started = Instant::now();
    let summary = import_ct2(&tiny_en::ct2_dir(), &output).expect("import tiny.en");
    eprintln!("imported tiny.en in {:.2?}", started.elapsed());
    assert_eq!(summary.bytes, TINY_EN_BYTES);
    (dir, std::fs::read(&output).expect("read output"))
}

#[test]
fn tiny_en_imports_with_expected_structure() {
    let (_dir, bytes) = import_tiny_en();
    assert_eq!(bytes.len() as u64, TINY_EN_BYTES);
    let ggml = read_ggml(&bytes);
    // n_vocab, audio ctx/state/head/layer, text ctx/state/head/layer, n_mels, ftype f16.
    assert_eq!(
        ggml.hparams,
        [51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1]
    );
    assert_eq!(ggml.mel_shape, (80, 201));
    assert_eq!(ggml.vocab.len(), 50256);
    assert_eq!(ggml.vocab[0], b"!");
    assert_eq!(ggml.vocab[220], b" ");
    assert_eq!(ggml.vocab[50255], b" gazed");
    assert_eq!(ggml.tensors.len(), 167);
    let f32_count = ggml.tensors.iter().filter(|t| t.ftype == 0).count();
    // Encoder blocks: 2 norms (weight, bias) + 5 biases; decoder blocks: 3 norms + 8 biases;
    // then ln_post, decoder.ln, 2 conv biases and 2 positional embeddings.
    assert_eq!(f32_count, 4 * (4 + 5) + 4 * (6 + 8) + 2 + 2 + 2 + 2);
    let embedding = ggml
        .tensors
        .iter()
        .find(|t| t.name == "decoder.token_embedding.weight")
        .expect("token embedding");
    assert_eq!(
        (embedding.ftype, embedding.dims.clone()),
        (1, vec![384, 51864])
    );
    assert_eq!(embedding.data.len(), 384 * 51864 * 2);

    let mut hasher = Sha256::new();
    hasher.update(&bytes[..ggml.mel_range.start]);
    hasher.update(&bytes[ggml.mel_range.end..]);
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, TINY_EN_SHA256_WITHOUT_MEL);
}

#[test]
fn tiny_en_matches_the_reference_converter_byte_for_byte() {
    let reference_path =
        tiny_en::home().join(".cache/whisper-operator/dev/ggml-tiny.en.reference.bin");
    let Ok(reference) = std::fs::read(&reference_path) else {
        eprintln!(
            "skipped: {} (a development artifact of the Python converter) is absent",
            reference_path.display()
        );
        return;
    };
    let (_dir, bytes) = import_tiny_en();
    assert_eq!(bytes.len(), reference.len());
    let ours = read_ggml(&bytes);
    let theirs = read_ggml(&reference);
    // The filter bank is computed here but shipped as a table by OpenAI: equal within 1e-6.
    assert_eq!(ours.mel_range, theirs.mel_range);
    let worst = ours
        .mel
        .iter()
        .zip(&theirs.mel)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("largest mel filter difference: {worst:e}");
    assert!(worst <= 1e-6, "mel filters differ by up to {worst}");
    let mel = ours.mel_range;
    assert!(
        bytes[..mel.start] == reference[..mel.start],
        "header differs"
    );
    if let Some(at) = (mel.end..bytes.len()).find(|&i| bytes[i] != reference[i]) {
        panic!("first difference after the mel filters at byte {at}");
    }
}
