//! WhisperService API types.
