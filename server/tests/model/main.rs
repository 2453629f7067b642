//! The model files: the verified download, the CTranslate2 importer (on a synthetic model and on
//! the real tiny.en weights), and whisper.cpp transcribing what the importer wrote.

mod ct2_fixture;
mod fetch;
mod ggml_reader;
mod import_synthetic;
mod import_tiny_en;
mod tiny_en;
mod transcribe;
