//! The model catalogue: names a WhisperService may use instead of a URL, with the checksum the
//! init container verifies. The built-in entries are whisper.cpp's own ggml conversions; an
//! operator installation may override them or add names (a mirror behind a firewall, a private
//! model store) with `--model-catalogue`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A downloadable model and its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CatalogueModel {
    #[serde(skip)]
    pub name: String,
    pub url: String,
    pub sha256: String,
}

/// The models the operator knows by name, in the order error messages list them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalogue {
    models: Vec<CatalogueModel>,
}

/// Why a catalogue override cannot be used; the operator refuses to start with it.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error(
        "--model-catalogue is not a JSON object of {{\"NAME\": {{\"url\": ..., \"sha256\": ...}}}}: {0}"
    )]
    Syntax(#[from] serde_json::Error),
    #[error("--model-catalogue entry {name:?}: url {url:?} is not an http(s) URL")]
    BadUrl { name: String, url: String },
    #[error("--model-catalogue entry {name:?}: sha256 must be 64 lowercase hexadecimal digits")]
    BadSha256 { name: String },
    #[error("--model-catalogue entry {0:?}: a model name may not be a URL or empty")]
    BadName(String),
}

const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "tiny.en",
        "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-tiny.en.bin",
        "921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f",
    ),
    (
        "base",
        "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-base.bin",
        "60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe",
    ),
    (
        "large-v3-turbo",
        "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-large-v3-turbo.bin",
        "1fc70f774d38eb169993ac391eea357ef47c88757ef72ee5943879b7e8e2bc69",
    ),
];

pub fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Default for Catalogue {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Catalogue {
    /// The entries this operator version ships with.
    pub fn builtin() -> Self {
        Self {
            models: BUILTIN
                .iter()
                .map(|(name, url, sha256)| CatalogueModel {
                    name: name.to_string(),
                    url: url.to_string(),
                    sha256: sha256.to_string(),
                })
                .collect(),
        }
    }

    /// The built-in catalogue with `json`'s entries replacing those of the same name and new
    /// names appended. Empty input means no overrides.
    pub fn with_overrides(json: &str) -> Result<Self, CatalogueError> {
        let mut catalogue = Self::builtin();
        if json.trim().is_empty() {
            return Ok(catalogue);
        }
        let overrides: BTreeMap<String, CatalogueModel> = serde_json::from_str(json)?;
        for (name, mut model) in overrides {
            if name.is_empty() || is_url(&name) {
                return Err(CatalogueError::BadName(name));
            }
            if !is_url(&model.url) {
                return Err(CatalogueError::BadUrl {
                    name,
                    url: model.url,
                });
            }
            if !is_sha256(&model.sha256) {
                return Err(CatalogueError::BadSha256 { name });
            }
            model.name = name;
            match catalogue.models.iter_mut().find(|m| m.name == model.name) {
                Some(existing) => *existing = model,
                None => catalogue.models.push(model),
            }
        }
        Ok(catalogue)
    }

    /// Looks a catalogue name up.
    pub fn lookup(&self, name: &str) -> Option<&CatalogueModel> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The catalogue names, for error messages.
    pub fn names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_entry_has_an_https_url_and_a_64_hex_digit_sha256() {
        for m in &Catalogue::builtin().models {
            assert!(m.url.starts_with("https://"), "{}", m.name);
            assert!(is_sha256(&m.sha256), "{}", m.name);
        }
    }

    #[test]
    fn lookup_finds_known_names_and_rejects_others() {
        let c = Catalogue::builtin();
        assert_eq!(
            c.lookup("tiny.en").map(|m| m.name.as_str()),
            Some("tiny.en")
        );
        assert!(c.lookup("tiny").is_none());
        assert_eq!(c.names(), vec!["tiny.en", "base", "large-v3-turbo"]);
    }

    #[test]
    fn overrides_replace_an_entry_and_add_new_names() {
        let sha = "b".repeat(64);
        let c = Catalogue::with_overrides(&format!(
            r#"{{"tiny.en": {{"url": "http://mirror.local/tiny.bin", "sha256": "{sha}"}},
                "mine": {{"url": "https://models.local/mine.bin", "sha256": "{sha}"}}}}"#
        ))
        .expect("valid overrides");
        let tiny = c.lookup("tiny.en").expect("tiny.en");
        assert_eq!(tiny.url, "http://mirror.local/tiny.bin");
        assert_eq!(tiny.sha256, sha);
        assert_eq!(c.names(), vec!["tiny.en", "base", "large-v3-turbo", "mine"]);
        assert_eq!(
            Catalogue::with_overrides("  ").expect("empty"),
            Catalogue::builtin()
        );
    }

    #[test]
    fn bad_overrides_are_refused_with_the_entry_named() {
        let sha = "c".repeat(64);
        let cases = [
            ("[1]".to_string(), "not a JSON object"),
            (
                format!(r#"{{"x": {{"url": "ftp://a/b", "sha256": "{sha}"}}}}"#),
                "\"x\": url \"ftp://a/b\"",
            ),
            (
                r#"{"x": {"url": "http://a/b", "sha256": "ABC"}}"#.to_string(),
                "\"x\": sha256 must be",
            ),
            (
                format!(r#"{{"http://a": {{"url": "http://a/b", "sha256": "{sha}"}}}}"#),
                "may not be a URL",
            ),
            (
                r#"{"x": {"url": "http://a/b"}}"#.to_string(),
                "missing field `sha256`",
            ),
        ];
        for (json, expected) in cases {
            let err = Catalogue::with_overrides(&json)
                .expect_err(&json)
                .to_string();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
