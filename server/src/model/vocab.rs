//! Whisper's vocabulary: GPT-2 byte-level BPE strings decoded back to the raw bytes whisper.cpp
//! stores, and a cross-check of `vocabulary.txt` against the HuggingFace `tokenizer.json`.
//!
//! GPT-2 maps every byte to a printable character (printable ASCII and Latin-1 map to themselves,
//! the other 68 bytes to U+0100 onwards); decoding inverts that map.

use std::collections::HashMap;

const END_OF_TEXT: &str = "<|endoftext|>";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VocabError {
    #[error("has no {END_OF_TEXT} token")]
    NoEndOfText,
    #[error("has {found} tokens but the model's embedding has {expected}")]
    CountMismatch { found: usize, expected: usize },
    #[error("token {index} ({token:?}) has a character outside GPT-2's byte alphabet")]
    NotByteLevel { index: usize, token: String },
    #[error("is not a HuggingFace tokenizer: {0}")]
    BadTokenizer(String),
    #[error("maps token {token:?} to id {found:?}, but vocabulary.txt has it at {expected}")]
    TokenizerDisagrees {
        token: String,
        expected: usize,
        found: Option<u64>,
    },
}

/// One token per line (the file ends with a newline).
pub fn parse_lines(text: &str) -> Vec<&str> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n').collect()
}

/// The regular (text) tokens, those before `<|endoftext|>`, as raw bytes.
pub fn regular_token_bytes(tokens: &[&str], n_vocab: usize) -> Result<Vec<Vec<u8>>, VocabError> {
    if tokens.len() != n_vocab {
        return Err(VocabError::CountMismatch {
            found: tokens.len(),
            expected: n_vocab,
        });
    }
    let n_regular = regular_count(tokens)?;
    let decoder = byte_decoder();
    tokens[..n_regular]
        .iter()
        .enumerate()
        .map(|(index, token)| {
            token
                .chars()
                .map(|c| decoder.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| VocabError::NotByteLevel {
                    index,
                    token: (*token).into(),
                })
        })
        .collect()
}

/// Checks that `tokenizer.json` gives every regular token the id its line number says.
pub fn check_tokenizer(tokens: &[&str], tokenizer_json: &str) -> Result<(), VocabError> {
    let json: serde_json::Value = serde_json::from_str(tokenizer_json)
        .map_err(|e| VocabError::BadTokenizer(e.to_string()))?;
    let ids = json
        .pointer("/model/vocab")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| VocabError::BadTokenizer("no model.vocab object".into()))?;
    let n_regular = regular_count(tokens)?;
    tokens[..n_regular]
        .iter()
        .enumerate()
        .try_for_each(|(expected, token)| {
            let found = ids.get(*token).and_then(serde_json::Value::as_u64);
            if found == Some(expected as u64) {
                Ok(())
            } else {
                Err(VocabError::TokenizerDisagrees {
                    token: (*token).into(),
                    expected,
                    found,
                })
            }
        })
}

fn regular_count(tokens: &[&str]) -> Result<usize, VocabError> {
    tokens
        .iter()
        .position(|t| *t == END_OF_TEXT)
        .ok_or(VocabError::NoEndOfText)
}

/// GPT-2's `bytes_to_unicode`, inverted.
fn byte_decoder() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next_unprintable = 256u32;
    (0..=255u8)
        .map(|b| {
            let c = if printable(b) {
                u32::from(b)
            } else {
                next_unprintable += 1;
                next_unprintable - 1
            };
            let c = char::from_u32(c).expect("code points below U+0144 are all chars");
            (c, b)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_strings_decode_to_bytes() {
        // "Ġ" is the space byte, "Ċ" newline; "Ã©" is UTF-8 "é" seen byte by byte.
        let tokens = ["Ġthe", "Ċ", "Ã©", "!", END_OF_TEXT, "<|startoftranscript|>"];
        let bytes = regular_token_bytes(&tokens, 6).expect("valid");
        assert_eq!(
            bytes,
            vec![
                b" the".to_vec(),
                b"\n".to_vec(),
                "é".as_bytes().to_vec(),
                b"!".to_vec()
            ]
        );
    }

    #[test]
    fn every_byte_has_exactly_one_character() {
        let decoder = byte_decoder();
        assert_eq!(decoder.len(), 256);
        let mut bytes: Vec<u8> = decoder.values().copied().collect();
        bytes.sort_unstable();
        assert_eq!(bytes, (0..=255).collect::<Vec<u8>>());
    }

    #[test]
    fn characters_outside_the_alphabet_are_rejected() {
        let err = regular_token_bytes(&["ok", "日本", END_OF_TEXT], 3).unwrap_err();
        assert_eq!(
            err,
            VocabError::NotByteLevel {
                index: 1,
                token: "日本".into()
            }
        );
    }

    #[test]
    fn missing_end_of_text_is_rejected() {
        assert_eq!(regular_token_bytes(&["a"], 1), Err(VocabError::NoEndOfText));
    }

    #[test]
    fn count_must_match_the_embedding() {
        assert_eq!(
            regular_token_bytes(&["a", END_OF_TEXT], 3),
            Err(VocabError::CountMismatch {
                found: 2,
                expected: 3
            })
        );
    }

    #[test]
    fn lines_ignore_the_final_newline() {
        assert_eq!(parse_lines("a\nb\n"), vec!["a", "b"]);
        assert_eq!(parse_lines("a\n\n"), vec!["a", ""]);
    }

    #[test]
    fn tokenizer_must_agree_on_ids() {
        let tokens = ["a", "b", END_OF_TEXT];
        let good = r#"{"model": {"vocab": {"a": 0, "b": 1, "<|endoftext|>": 2}}}"#;
        assert_eq!(check_tokenizer(&tokens, good), Ok(()));
        let swapped = r#"{"model": {"vocab": {"a": 1, "b": 0}}}"#;
        assert!(matches!(
            check_tokenizer(&tokens, swapped),
            Err(VocabError::TokenizerDisagrees { expected: 0, .. })
        ));
        assert!(matches!(
            check_tokenizer(&tokens, "{}"),
            Err(VocabError::BadTokenizer(_))
        ));
        assert!(matches!(
            check_tokenizer(&tokens, "not json"),
            Err(VocabError::BadTokenizer(_))
        ));
    }
}
