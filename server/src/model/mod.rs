//! Whisper models: importing CTranslate2 weights into ggml, and fetching verified model files.
//!
//! One file per idea: `ct2` reads CTranslate2's `model.bin`, `hparams` and `mapping` turn its
//! variables into whisper.cpp's tensors, `vocab` decodes the tokenizer, `mel` computes the filter
//! bank, `ggml` writes the file, `import` ties them together; `fetch` downloads and verifies.

mod atomic;
mod convert;
mod ct2;
mod fetch;
mod ggml;
mod hparams;
mod import;
mod mapping;
mod mel;
mod vocab;

pub use ct2::{Ct2Error, DType};
pub use fetch::{FetchError, FetchOutcome, fetch_model};
pub use hparams::Hparams;
pub use import::{ImportError, ImportSummary, import_ct2};
pub use mapping::MappingError;
pub use vocab::VocabError;
