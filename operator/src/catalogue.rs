//! The model catalogue: names a WhisperService may use instead of a URL, with the checksum the
//! init container verifies. The ggml files are whisper.cpp's own conversions.

/// A downloadable model and its SHA-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatalogueModel {
    pub name: &'static str,
    pub url: &'static str,
    pub sha256: &'static str,
}

/// Every model name the operator knows.
pub const CATALOGUE: &[CatalogueModel] = &[
    CatalogueModel {
        name: "tiny.en",
        url: "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-tiny.en.bin",
        sha256: "921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f",
    },
    CatalogueModel {
        name: "base",
        url: "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-base.bin",
        sha256: "60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe",
    },
    CatalogueModel {
        name: "large-v3-turbo",
        url: "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-large-v3-turbo.bin",
        sha256: "1fc70f774d38eb169993ac391eea357ef47c88757ef72ee5943879b7e8e2bc69",
    },
];

/// Looks a catalogue name up.
pub fn lookup(name: &str) -> Option<&'static CatalogueModel> {
    CATALOGUE.iter().find(|m| m.name == name)
}

/// The catalogue names, for error messages.
pub fn names() -> Vec<&'static str> {
    CATALOGUE.iter().map(|m| m.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_has_an_https_url_and_a_64_hex_digit_sha256() {
        for m in CATALOGUE {
            assert!(m.url.starts_with("https://"), "{}", m.name);
            assert_eq!(m.sha256.len(), 64, "{}", m.name);
            assert!(
                m.sha256
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }
    }

    #[test]
    fn lookup_finds_known_names_and_rejects_others() {
        assert_eq!(lookup("tiny.en").map(|m| m.name), Some("tiny.en"));
        assert!(lookup("tiny").is_none());
        assert_eq!(names(), vec!["tiny.en", "base", "large-v3-turbo"]);
    }
}
