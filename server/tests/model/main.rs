//! The model files: the verified download, the CTranslate2 importer (on a synthetic model and on
//! the real tiny.en weights), whisper.cpp transcribing what the importer wrote, and the Silero
//! VAD importer against faster-whisper's own VAD.

mod ct2_fixture;
mod fetch;
mod ggml_reader;
mod import_synthetic;
mod import_tiny_en;
mod tiny_en;
mod transcribe;
mod vad_import;
