//! Whisper models: importing CTranslate2 weights into ggml, and fetching verified model files.
//!
//! One file per idea: `ct2` reads CTranslate2's `model.bin`, `hparams` and `mapping` turn its
//! variables into whisper.cpp's tensors, `vocab` decodes the tokenizer, `mel` computes the filter
//! bank, `quantize` turns matrices into q8_0, `ggml` writes the file, `import` ties them together;
//! `ggml_read` splits an existing file and `requantize` re-encodes it at load; `fetch` downloads
//! and verifies. `silero` converts Silero VAD's ONNX export (read by `onnx`, taken out of its wheel
//! by `wheel`) into whisper.cpp's VAD file.

mod atomic;
mod convert;
mod ct2;
mod fetch;
mod ggml;
mod ggml_read;
mod hparams;
mod import;
mod mapping;
mod mel;
mod onnx;
mod quantize;
mod requantize;
mod silero;
mod vocab;
mod wheel;

pub use ct2::{Ct2Error, DType};
// The readers over bytes, public for the fuzz targets (server/fuzz/, docs/fuzzing.md).
pub use ct2::{Ct2Model, parse as parse_ct2};
pub use fetch::{FetchError, FetchOutcome, fetch_model};
pub use ggml_read::GgmlReadError;
pub use ggml_read::{GgmlFile, read as read_ggml};
pub use hparams::Hparams;
pub use hparams::derive as derive_hparams;
pub use import::{ImportError, ImportSummary, import_ct2, import_ct2_as};
pub use mapping::MappingError;
pub use mapping::ggml_tensors;
pub use quantize::{QuantizeError, Weights};
pub use requantize::{RequantizeError, requantize};
pub use silero::{
    VadImportError, VadImportSummary, faster_whisper_onnx, import_silero_vad,
    parse_version as parse_silero_version,
};
pub use vocab::VocabError;
