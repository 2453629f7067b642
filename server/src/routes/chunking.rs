//! The form's `chunking_strategy`, as OpenAI's API defines it: `"auto"`, or a `server_vad`
//! object with `threshold`, `prefix_padding_ms` and `silence_duration_ms`. A multipart form
//! carries the object as one JSON field, or (as the official SDKs send it) as bracketed fields
//! `chunking_strategy[type]`, `chunking_strategy[threshold]`, and so on. `"none"`, not in
//! OpenAI's API, asks for the whole recording where the server's default is `auto`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::engine::vad::{Chunking, VadSettings};
use crate::error::ApiError;

/// The longest padding or silence a request may set: a minute.
const MAX_MS: u32 = 60_000;

/// The `chunking_strategy` fields of one form, as they arrive.
#[derive(Debug, Default)]
pub struct ChunkingFields {
    /// `chunking_strategy` itself: `auto`, `none`, or a JSON object.
    whole: Option<String>,
    /// `chunking_strategy[key]` fields, by key.
    keyed: BTreeMap<String, String>,
}

/// A `server_vad` object, from JSON or from bracketed fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerVad {
    #[serde(rename = "type")]
    kind: Option<String>,
    threshold: Option<f64>,
    prefix_padding_ms: Option<f64>,
    silence_duration_ms: Option<f64>,
}

impl ChunkingFields {
    /// Takes the form field `name` if it is one of `chunking_strategy`'s; false otherwise.
    pub fn take(&mut self, name: &str, value: &str) -> bool {
        if name == "chunking_strategy" {
            self.whole = Some(value.trim().to_string());
            return true;
        }
        let Some(key) = name
            .strip_prefix("chunking_strategy[")
            .and_then(|rest| rest.strip_suffix(']'))
        else {
            return false;
        };
        self.keyed.insert(key.to_string(), value.trim().to_string());
        true
    }

    /// What the request asked for; `None` when it named no strategy.
    pub fn resolve(self) -> Result<Option<Chunking>, ApiError> {
        match (self.whole, self.keyed.is_empty()) {
            (None, true) => Ok(None),
            (Some(_), false) => Err(bad(
                "chunking_strategy is given both as a value and as chunking_strategy[...] fields; \
                 use one",
            )),
            (None, false) => server_vad(from_keyed(self.keyed)?).map(Some),
            (Some(value), true) => match value.as_str() {
                "auto" => Ok(Some(Chunking::Speech(VadSettings::AUTO))),
                "none" => Ok(Some(Chunking::Whole)),
                json if json.starts_with('{') => {
                    let object = serde_json::from_str::<ServerVad>(json).map_err(|e| {
                        bad(&format!(
                            "chunking_strategy is not a valid server_vad object: {e}"
                        ))
                    })?;
                    server_vad(object).map(Some)
                }
                other => Err(bad(&format!(
                    "chunking_strategy must be \"auto\" or a server_vad object, not '{}'",
                    truncate(other)
                ))),
            },
        }
    }
}

fn from_keyed(keyed: BTreeMap<String, String>) -> Result<ServerVad, ApiError> {
    let mut object = ServerVad::default();
    for (key, value) in keyed {
        let number = || {
            value.parse::<f64>().map_err(|_| {
                bad(&format!(
                    "chunking_strategy[{}] must be a number, not '{}'",
                    truncate(&key),
                    truncate(&value)
                ))
            })
        };
        match key.as_str() {
            "type" => object.kind = Some(value.clone()),
            "threshold" => object.threshold = Some(number()?),
            "prefix_padding_ms" => object.prefix_padding_ms = Some(number()?),
            "silence_duration_ms" => object.silence_duration_ms = Some(number()?),
            other => {
                return Err(bad(&format!(
                    "unknown field chunking_strategy[{}]; a server_vad object has type, \
                     threshold, prefix_padding_ms and silence_duration_ms",
                    truncate(other)
                )));
            }
        }
    }
    Ok(object)
}

/// The VAD settings of a `server_vad` object, OpenAI's defaults for what it leaves out.
fn server_vad(object: ServerVad) -> Result<Chunking, ApiError> {
    match object.kind.as_deref() {
        Some("server_vad") => {}
        Some(other) => {
            return Err(bad(&format!(
                "chunking_strategy type must be server_vad, not '{}'",
                truncate(other)
            )));
        }
        None => {
            return Err(bad(
                "a chunking_strategy object needs \"type\": \"server_vad\"",
            ));
        }
    }
    let defaults = VadSettings::SERVER_VAD_DEFAULTS;
    let threshold = match object.threshold {
        None => defaults.threshold,
        Some(t) if (0.0..=1.0).contains(&t) => t as f32,
        Some(t) => {
            return Err(bad(&format!(
                "chunking_strategy threshold must be from 0 to 1, not {t}"
            )));
        }
    };
    Ok(Chunking::Speech(VadSettings {
        threshold,
        padding_ms: milliseconds(
            "prefix_padding_ms",
            object.prefix_padding_ms,
            defaults.padding_ms,
        )?,
        min_silence_ms: milliseconds(
            "silence_duration_ms",
            object.silence_duration_ms,
            defaults.min_silence_ms,
        )?,
    }))
}

fn milliseconds(name: &str, value: Option<f64>, default: u32) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(ms) if ms.fract() == 0.0 && (0.0..=f64::from(MAX_MS)).contains(&ms) => Ok(ms as u32),
        Some(ms) => Err(bad(&format!(
            "chunking_strategy {name} must be a whole number of milliseconds from 0 to {MAX_MS}, \
             not {ms}"
        ))),
    }
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_string())
}

/// Echoes at most a little of what the user sent back in messages.
fn truncate(value: &str) -> String {
    value.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(fields: &[(&str, &str)]) -> Result<Option<Chunking>, String> {
        let mut chunking = ChunkingFields::default();
        for (name, value) in fields {
            assert!(chunking.take(name, value), "{name} is a chunking field");
        }
        chunking.resolve().map_err(|e| e.to_string())
    }

    fn speech(threshold: f32, padding_ms: u32, min_silence_ms: u32) -> Option<Chunking> {
        Some(Chunking::Speech(VadSettings {
            threshold,
            padding_ms,
            min_silence_ms,
        }))
    }

    #[test]
    fn auto_none_and_nothing() {
        assert_eq!(resolve(&[]), Ok(None));
        assert_eq!(
            resolve(&[("chunking_strategy", " auto ")]),
            Ok(Some(Chunking::Speech(VadSettings::AUTO)))
        );
        assert_eq!(
            resolve(&[("chunking_strategy", "none")]),
            Ok(Some(Chunking::Whole))
        );
    }

    #[test]
    fn a_server_vad_object_as_json_or_as_bracketed_fields() {
        let json = r#"{"type": "server_vad", "threshold": 0.6, "prefix_padding_ms": 100, "silence_duration_ms": 500}"#;
        assert_eq!(
            resolve(&[("chunking_strategy", json)]),
            Ok(speech(0.6, 100, 500))
        );
        let keyed = [
            ("chunking_strategy[type]", "server_vad"),
            ("chunking_strategy[threshold]", "0.6"),
            ("chunking_strategy[prefix_padding_ms]", "100"),
            ("chunking_strategy[silence_duration_ms]", "500"),
        ];
        assert_eq!(resolve(&keyed), Ok(speech(0.6, 100, 500)));
        // OpenAI's defaults for what is left out.
        assert_eq!(
            resolve(&[("chunking_strategy", r#"{"type":"server_vad"}"#)]),
            Ok(speech(0.5, 300, 200))
        );
    }

    #[test]
    fn each_bad_value_is_refused_by_name() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("chunking_strategy", "sometimes")], "not 'sometimes'"),
            (
                &[("chunking_strategy", "{\"type\": \"server_vad\"")],
                "not a valid server_vad object",
            ),
            (
                &[("chunking_strategy", r#"{"type":"semantic_vad"}"#)],
                "not 'semantic_vad'",
            ),
            (
                &[("chunking_strategy", r#"{"threshold":0.5}"#)],
                "needs \"type\"",
            ),
            (
                &[(
                    "chunking_strategy",
                    r#"{"type":"server_vad","eagerness":"low"}"#,
                )],
                "unknown field `eagerness`",
            ),
            (
                &[(
                    "chunking_strategy",
                    r#"{"type":"server_vad","threshold":1.5}"#,
                )],
                "threshold must be from 0 to 1",
            ),
            (
                &[
                    ("chunking_strategy[type]", "server_vad"),
                    ("chunking_strategy[threshold]", "high"),
                ],
                "chunking_strategy[threshold] must be a number",
            ),
            (
                &[
                    ("chunking_strategy[type]", "server_vad"),
                    ("chunking_strategy[prefix_padding_ms]", "-5"),
                ],
                "prefix_padding_ms must be a whole number",
            ),
            (
                &[
                    ("chunking_strategy[type]", "server_vad"),
                    ("chunking_strategy[silence_duration_ms]", "2.5"),
                ],
                "silence_duration_ms must be a whole number",
            ),
            (
                &[
                    ("chunking_strategy[type]", "server_vad"),
                    ("chunking_strategy[silence_duration_ms]", "600000"),
                ],
                "from 0 to 60000",
            ),
            (
                &[("chunking_strategy[kind]", "server_vad")],
                "unknown field chunking_strategy[kind]",
            ),
            (
                &[
                    ("chunking_strategy", "auto"),
                    ("chunking_strategy[type]", "server_vad"),
                ],
                "use one",
            ),
        ];
        for (fields, expected) in cases {
            match resolve(fields) {
                Err(message) => assert!(message.contains(expected), "{fields:?}: {message}"),
                Ok(chunking) => panic!("{fields:?} was taken as {chunking:?}"),
            }
        }
    }

    #[test]
    fn other_fields_are_not_taken() {
        let mut chunking = ChunkingFields::default();
        assert!(!chunking.take("chunking", "auto"));
        assert!(!chunking.take("chunking_strategy_x", "auto"));
    }
}
