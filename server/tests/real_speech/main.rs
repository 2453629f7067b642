//! Accuracy on real recorded speech, through the real server over HTTP: the proof that speed
//! levers (audio context, kernels, threading, parallel windows) do not cost words.
//!
//! Starts the whisper-server binary ($WHISPER_SERVER_BIN, else the one cargo built for this
//! test run) with tiny.en ($WHISPER_TEST_MODEL) and sends it the corpus of
//! scripts/fetch-speech-corpus.sh ($WHISPER_SPEECH_MANIFEST).

mod accent_folding;
mod base_corpus_wer;
mod corpus;
mod corpus_wer;
mod language_detection;
mod long_recording;
mod multilingual_corpus;
mod multilingual_wer;
mod same_transcript;
mod server;
mod shared_states;
mod translation;
mod translation_key_words;
mod wer;
