//! The importer on a tiny synthetic CTranslate2 model: the success path checked tensor by tensor,
//! and every bad-input path mapped to its typed error, naming the offending file.

use std::path::{Path, PathBuf};

use crate::ct2_fixture::{Ct2Fixture, N_AUDIO_CTX, N_MELS, N_STATE, N_TEXT_CTX, TOKENS, Variable};
use crate::ggml_reader::read_ggml;
use whisper_server::model::{Ct2Error, ImportError, MappingError, VocabError, import_ct2};

struct Case {
    _dir: tempfile::TempDir,
    input: PathBuf,
    output: PathBuf,
}

fn case(fixture: &Ct2Fixture) -> Case {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("ct2");
    fixture.write_dir(&input);
    let output = dir.path().join("out").join("ggml-test.bin");
    Case {
        input,
        output,
        _dir: dir,
    }
}

fn import_err(case: &Case) -> ImportError {
    let err = import_ct2(&case.input, &case.output).expect_err("import must fail");
    assert!(
        !case.output.exists(),
        "a failed import must not leave an output"
    );
    err
}

fn model_bin(case: &Case) -> PathBuf {
    case.input.join("model.bin")
}

fn edit_model_bin(case: &Case, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(model_bin(case)).expect("read model.bin");
    edit(&mut bytes);
    std::fs::write(model_bin(case), bytes).expect("write model.bin");
}

fn assert_names(err: &ImportError, path: &Path) {
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "{message:?} should name {}",
        path.display()
    );
}

#[test]
fn synthetic_model_imports_with_derived_hparams_and_split_attention() {
    let c = case(&Ct2Fixture::whisper());
    let summary = import_ct2(&c.input, &c.output).expect("import");
    let bytes = std::fs::read(&c.output).expect("read output");
    assert_eq!(summary.bytes, bytes.len() as u64);
    let ggml = read_ggml(&bytes);

    let n = N_STATE as i32;
    let (vocab, audio_ctx, text_ctx, mels) = (
        TOKENS.len() as i32,
        N_AUDIO_CTX as i32,
        N_TEXT_CTX as i32,
        N_MELS as i32,
    );
    assert_eq!(
        ggml.hparams,
        [vocab, audio_ctx, n, 2, 1, text_ctx, n, 2, 1, mels, 1]
    );
    assert_eq!(ggml.mel_shape, (N_MELS, 201));
    assert_eq!(ggml.mel_range.len(), ggml.mel.len() * 4);
    let expected_vocab: Vec<&[u8]> = vec![b"a", b" b", b"\n", "é".as_bytes()];
    assert_eq!(ggml.vocab, expected_vocab);
    assert_eq!(summary.vocab_tokens, 4);
    // 7 encoder-level + 15 per encoder block + 4 decoder-level + 24 per decoder block.
    assert_eq!(ggml.tensors.len(), 50);
    assert_eq!(summary.tensors, 50);

    let tensor = |name: &str| {
        ggml.tensors
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tensor {name}"))
    };
    let conv_bias = tensor("encoder.conv1.bias");
    assert_eq!(
        (conv_bias.ftype, conv_bias.dims.clone()),
        (0, vec![1, N_STATE])
    );
    let pos = tensor("encoder.positional_embedding");
    assert_eq!(
        (pos.ftype, pos.dims.clone()),
        (0, vec![N_STATE, N_AUDIO_CTX])
    );

    // Q|K|V: the value weight is the last third of the fused weight, still f16.
    let fixture = Ct2Fixture::whisper();
    let fused = &fixture
        .variables
        .iter()
        .find(|v| v.name == "encoder/layer_0/self_attention/linear_0/weight")
        .expect("fused weight")
        .data;
    let value = tensor("encoder.blocks.0.attn.value.weight");
    assert_eq!(
        (value.ftype, value.dims.clone()),
        (1, vec![N_STATE, N_STATE])
    );
    assert_eq!(&bytes[value.data.clone()], &fused[2 * fused.len() / 3..]);
    // Biases are widened to f32: the query bias starts 0.25, 0.5, ...
    let q_bias = &bytes[tensor("decoder.blocks.0.attn.query.bias").data.clone()];
    assert_eq!(
        &q_bias[..8],
        &[0.25f32.to_le_bytes(), 0.5f32.to_le_bytes()].concat()[..]
    );
    assert!(ggml.tensors.iter().all(|t| !t.name.contains("key.bias")));
    assert!(
        std::fs::read_dir(c.output.parent().expect("parent"))
            .expect("list")
            .count()
            == 1,
        "no temporary file is left beside the output"
    );
}

#[test]
fn missing_tokenizer_is_a_missing_file() {
    let c = case(&Ct2Fixture::whisper());
    let path = c.input.join("tokenizer.json");
    std::fs::remove_file(&path).expect("remove");
    let err = import_err(&c);
    assert!(matches!(&err, ImportError::MissingFile { path: p } if *p == path));
    assert_names(&err, &path);
}

#[test]
fn missing_model_bin_and_missing_directory_are_missing_files() {
    let c = case(&Ct2Fixture::whisper());
    std::fs::remove_file(model_bin(&c)).expect("remove");
    assert!(matches!(import_err(&c), ImportError::MissingFile { .. }));
    let gone = c.input.join("nowhere");
    let err = import_ct2(&gone, &c.output).expect_err("no directory");
    assert!(matches!(err, ImportError::MissingFile { .. }));
}

#[test]
fn truncated_model_is_rejected() {
    let c = case(&Ct2Fixture::whisper());
    edit_model_bin(&c, |b| b.truncate(b.len() - 100));
    let err = import_err(&c);
    assert!(
        matches!(
            &err,
            ImportError::Model {
                source: Ct2Error::Truncated { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, &model_bin(&c));
}

#[test]
fn wrong_magic_is_rejected() {
    let c = case(&Ct2Fixture::whisper());
    edit_model_bin(&c, |b| b[..4].copy_from_slice(b"GGUF"));
    let err = import_err(&c);
    assert!(matches!(
        &err,
        ImportError::Model {
            source: Ct2Error::BadVersion { .. },
            ..
        }
    ));
    assert_names(&err, &model_bin(&c));
}

#[test]
fn other_spec_is_rejected() {
    let c = case(&Ct2Fixture::whisper());
    // "WhisperSpec" starts after the version (4) and its length (2).
    edit_model_bin(&c, |b| b[6..13].copy_from_slice(b"Llama__"));
    let err = import_err(&c);
    assert!(matches!(
        &err,
        ImportError::Model {
            source: Ct2Error::BadSpec { .. },
            ..
        }
    ));
}

#[test]
fn trailing_garbage_is_rejected() {
    let c = case(&Ct2Fixture::whisper());
    edit_model_bin(&c, |b| b.extend_from_slice(b"garbage"));
    let err = import_err(&c);
    assert!(matches!(
        &err,
        ImportError::Model {
            source: Ct2Error::TrailingBytes { extra: 7, .. },
            ..
        }
    ));
    assert_names(&err, &model_bin(&c));
}

#[test]
fn unknown_dtype_is_rejected() {
    let mut fixture = Ct2Fixture::whisper();
    fixture.get_mut("encoder/conv1/bias").dtype = 42;
    let err = import_err(&case(&fixture));
    assert!(matches!(
        &err,
        ImportError::Model {
            source: Ct2Error::UnknownDtype { code: 42, .. },
            ..
        }
    ));
}

#[test]
fn integer_weights_are_unsupported() {
    let mut fixture = Ct2Fixture::whisper();
    let w = fixture.get_mut("encoder/conv2/weight");
    w.dtype = 1; // int8: same element count, half the bytes
    w.data.truncate(w.data.len() / 2);
    let err = import_err(&case(&fixture));
    assert!(matches!(
        &err,
        ImportError::Tensors {
            source: MappingError::UnsupportedDtype { .. },
            ..
        }
    ));
}

#[test]
fn missing_tensor_is_named() {
    let mut fixture = Ct2Fixture::whisper();
    fixture.remove("decoder/layer_0/ffn/linear_1/bias");
    let c = case(&fixture);
    let err = import_err(&c);
    assert!(matches!(
        &err,
        ImportError::Tensors {
            source: MappingError::MissingTensor { name },
            ..
        } if name == "decoder/layer_0/ffn/linear_1/bias"
    ));
    assert_names(&err, &model_bin(&c));
}

#[test]
fn a_layer_numbered_usize_max_is_a_missing_layer_not_an_overflow() {
    // Found reviewing the ct2_model fuzz target: counting layers as the highest `layer_N` plus
    // one overflowed (a panic in debug builds) for N = usize::MAX.
    let mut fixture = Ct2Fixture::whisper();
    fixture.variables.push(Variable {
        name: format!("encoder/layer_{}/ffn/layer_norm/gamma", usize::MAX),
        shape: vec![N_STATE],
        dtype: 4, // f16
        data: vec![0; 2 * N_STATE],
    });
    assert!(matches!(
        import_err(&case(&fixture)),
        ImportError::Tensors {
            source: MappingError::MissingTensor { name },
            ..
        } if name == "encoder/layer_1/self_attention/layer_norm/gamma"
    ));
}

#[test]
fn non_zero_key_bias_is_rejected() {
    for (bias, at) in [
        ("encoder/layer_0/self_attention/linear_0/bias", N_STATE * 2),
        ("decoder/layer_0/attention/linear_1/bias", 0),
    ] {
        let mut fixture = Ct2Fixture::whisper();
        // f16 1.0 at the first element of the key part.
        fixture.get_mut(bias).data[at..at + 2].copy_from_slice(&[0x00, 0x3c]);
        let err = import_err(&case(&fixture));
        assert!(
            matches!(
                &err,
                ImportError::Tensors {
                    source: MappingError::NonZeroKeyBias { name },
                    ..
                } if name == bias
            ),
            "{err}"
        );
    }
}

#[test]
fn untied_projection_is_rejected() {
    let mut fixture = Ct2Fixture::whisper();
    fixture.aliases.clear();
    assert!(matches!(
        import_err(&case(&fixture)),
        ImportError::Tensors {
            source: MappingError::UntiedProjection,
            ..
        }
    ));
}

#[test]
fn vocabulary_must_match_the_embedding() {
    let c = case(&Ct2Fixture::whisper());
    let path = c.input.join("vocabulary.txt");
    std::fs::write(&path, "a\n<|endoftext|>\n").expect("write");
    let err = import_err(&c);
    assert!(matches!(
        &err,
        ImportError::Vocabulary {
            source: VocabError::CountMismatch { found: 2, .. },
            ..
        }
    ));
    assert_names(&err, &path);
}

#[test]
fn tokenizer_must_agree_with_the_vocabulary() {
    let c = case(&Ct2Fixture::whisper());
    let path = c.input.join("tokenizer.json");
    std::fs::write(&path, r#"{"model": {"vocab": {"a": 1}}}"#).expect("write");
    let err = import_err(&c);
    assert!(matches!(
        &err,
        ImportError::Vocabulary {
            source: VocabError::TokenizerDisagrees { .. },
            ..
        }
    ));
    assert_names(&err, &path);
}

#[test]
fn broken_config_is_rejected() {
    let c = case(&Ct2Fixture::whisper());
    let path = c.input.join("config.json");
    std::fs::write(&path, "{not json").expect("write");
    let err = import_err(&c);
    assert!(matches!(&err, ImportError::Config { .. }));
    assert_names(&err, &path);
}

#[test]
fn failed_import_keeps_the_previous_output() {
    let good = case(&Ct2Fixture::whisper());
    import_ct2(&good.input, &good.output).expect("import");
    let before = std::fs::read(&good.output).expect("read");
    edit_model_bin(&good, |b| b.push(0));
    import_ct2(&good.input, &good.output).expect_err("trailing byte");
    assert_eq!(std::fs::read(&good.output).expect("read"), before);
}

#[test]
fn a_mel_band_count_past_any_whisper_model_is_a_bad_shape_not_an_allocation() {
    // A zero state width keeps the tensor empty, so the file is small whatever it claims.
    let mut fixture = Ct2Fixture::whisper();
    let conv = fixture.get_mut("encoder/conv1/weight");
    conv.shape = vec![0, u32::MAX as usize, 3];
    conv.data.clear();
    let err = import_err(&case(&fixture));
    assert!(
        matches!(
            &err,
            ImportError::Tensors {
                source: MappingError::BadShape { name, .. },
                ..
            } if name == "encoder/conv1/weight"
        ),
        "{err}"
    );
}
