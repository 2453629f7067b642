//! Silero's ONNX model inside the Python wheel that carries it: faster-whisper's
//! (`faster_whisper/assets/silero_vad_v6.onnx`) or silero-vad's
//! (`silero_vad/data/silero_vad_16k_op15.onnx`), so `import-silero-vad` takes the wheel as
//! `pip download` or the package index serves it, with nothing to unpack first.

use std::io::{Cursor, Read};

/// Where the known wheels keep the 16 kHz model `silero` converts, in order of preference.
const MEMBERS: [&str; 2] = [
    "faster_whisper/assets/silero_vad_v6.onnx",
    "silero_vad/data/silero_vad_16k_op15.onnx",
];

/// A zip file (a wheel) starts with a local file header.
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// The Silero model in the wheel `bytes`; the error says what is missing or broken.
pub fn silero_onnx(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a readable zip: {e}"))?;
    let name = MEMBERS
        .iter()
        .find(|member| archive.index_for_name(member).is_some())
        .ok_or_else(|| format!("a zip without {} or {}", MEMBERS[0], MEMBERS[1]))?;
    let mut member = archive
        .by_name(name)
        .map_err(|e| format!("cannot open {name}: {e}"))?;
    let mut onnx = Vec::with_capacity(usize::try_from(member.size()).unwrap_or(0).min(1 << 26));
    member
        .read_to_end(&mut onnx)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    Ok(onnx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_zips_and_zips_without_the_model_are_told_apart() {
        assert!(!is_zip(b"\x08\x07onnx"));
        assert!(is_zip(b"PK\x03\x04rest"));
        let broken = silero_onnx(b"PK\x03\x04 truncated").unwrap_err();
        assert!(broken.contains("not a readable zip"), "{broken}");
    }
}
