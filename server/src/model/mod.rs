//! Whisper models: importing CTranslate2 weights into ggml, and fetching verified model files.
