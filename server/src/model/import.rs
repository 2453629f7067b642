//! CTranslate2 Whisper model directory → whisper.cpp ggml file (f16, or q8_0 matrices).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::atomic::AtomicFile;
use super::ct2::{self, Ct2Error};
use super::hparams::{self, Hparams};
use super::mapping::{self, MappingError};
use super::quantize::{QuantizeError, Weights};
use super::vocab::{self, VocabError};
use super::{ggml, mel};

const MODEL_BIN: &str = "model.bin";
const CONFIG_JSON: &str = "config.json";
const TOKENIZER_JSON: &str = "tokenizer.json";
const VOCABULARY_TXT: &str = "vocabulary.txt";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "{}: not found (a CTranslate2 Whisper model directory holds {MODEL_BIN}, {CONFIG_JSON}, \
         {TOKENIZER_JSON} and {VOCABULARY_TXT})",
        path.display()
    )]
    MissingFile { path: PathBuf },
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Model { path: PathBuf, source: Ct2Error },
    #[error("{}: {source}", path.display())]
    Tensors { path: PathBuf, source: MappingError },
    #[error("{}: {source}", path.display())]
    Vocabulary { path: PathBuf, source: VocabError },
    #[error("{}: not a JSON object: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Quantize {
        path: PathBuf,
        source: QuantizeError,
    },
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub hparams: Hparams,
    pub tensors: usize,
    /// Regular text tokens written (those before `<|endoftext|>`).
    pub vocab_tokens: usize,
    pub bytes: u64,
}

/// Imports with f16 weights, as whisper.cpp's own converter writes them.
pub fn import_ct2(input_dir: &Path, output: &Path) -> Result<ImportSummary, ImportError> {
    import_ct2_as(input_dir, output, Weights::F16)
}

pub fn import_ct2_as(
    input_dir: &Path,
    output: &Path,
    weights: Weights,
) -> Result<ImportSummary, ImportError> {
    let [model_path, config_path, tokenizer_path, vocab_path] =
        [MODEL_BIN, CONFIG_JSON, TOKENIZER_JSON, VOCABULARY_TXT].map(|f| input_dir.join(f));
    for path in [&model_path, &config_path, &tokenizer_path, &vocab_path] {
        if !path.is_file() {
            return Err(ImportError::MissingFile { path: path.clone() });
        }
    }
    check_config(&config_path)?;
    let vocab_text = read_text(&vocab_path)?;
    let tokenizer_text = read_text(&tokenizer_path)?;
    let model_bytes = fs::read(&model_path).map_err(|source| read_error(&model_path, source))?;

    let model = ct2::parse(&model_bytes).map_err(|source| ImportError::Model {
        path: model_path.clone(),
        source,
    })?;
    let tensors_error = |source| ImportError::Tensors {
        path: model_path.clone(),
        source,
    };
    let hp = hparams::derive(&model).map_err(tensors_error)?;
    let tensors = mapping::ggml_tensors(&model, &hp)
        .map_err(tensors_error)?
        .into_iter()
        .map(|tensor| weights.apply(tensor))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ImportError::Quantize {
            path: model_path.clone(),
            source,
        })?;

    let tokens = vocab::parse_lines(&vocab_text);
    let vocab_bytes = vocab::regular_token_bytes(&tokens, hp.n_vocab).map_err(|source| {
        ImportError::Vocabulary {
            path: vocab_path.clone(),
            source,
        }
    })?;
    vocab::check_tokenizer(&tokens, &tokenizer_text).map_err(|source| ImportError::Vocabulary {
        path: tokenizer_path.clone(),
        source,
    })?;

    let mel = mel::slaney(hp.n_mels);
    let bytes = write_output(output, |w| {
        ggml::write(w, &hp, &mel, &vocab_bytes, weights, &tensors)
    })?;
    Ok(ImportSummary {
        hparams: hp,
        tensors: tensors.len(),
        vocab_tokens: vocab_bytes.len(),
        bytes,
    })
}

/// CTranslate2 needs `config.json` to load the model; whisper.cpp needs nothing from it, but a
/// broken one means the directory is not the model it claims to be.
fn check_config(path: &Path) -> Result<(), ImportError> {
    let text = read_text(path)?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(ImportError::Config {
            path: path.into(),
            message: "top level is not an object".into(),
        }),
        Err(e) => Err(ImportError::Config {
            path: path.into(),
            message: e.to_string(),
        }),
    }
}

fn read_text(path: &Path) -> Result<String, ImportError> {
    fs::read_to_string(path).map_err(|source| read_error(path, source))
}

fn read_error(path: &Path, source: io::Error) -> ImportError {
    ImportError::Read {
        path: path.into(),
        source,
    }
}

fn write_output(
    output: &Path,
    write: impl FnOnce(&mut dyn io::Write) -> io::Result<u64>,
) -> Result<u64, ImportError> {
    let write_error = |source| ImportError::Write {
        path: output.into(),
        source,
    };
    let mut file = AtomicFile::create(output).map_err(write_error)?;
    let bytes = write(file.writer()).map_err(write_error)?;
    file.commit(output).map_err(write_error)?;
    Ok(bytes)
}
