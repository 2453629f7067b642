//! The multipart form of the OpenAI audio endpoints.

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::http::StatusCode;

use crate::error::ApiError;
use crate::format::ResponseFormat;

#[derive(Debug)]
pub struct AudioForm {
    pub file: Vec<u8>,
    pub language: Option<String>,
    pub prompt: Option<String>,
    pub response_format: ResponseFormat,
    pub temperature: f32,
    pub word_timestamps: bool,
    /// Beams for beam search; 1 decodes greedily (the default, as OpenAI's API does).
    pub beam_size: usize,
}

/// whisper.cpp runs at most 8 decoders at once.
pub const MAX_BEAM_SIZE: usize = 8;

/// Text fields are short; anything longer is a mistake or an attack.
const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;

pub async fn read(
    multipart: Result<Multipart, MultipartRejection>,
    max_upload_bytes: usize,
) -> Result<AudioForm, ApiError> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected a multipart/form-data body with a 'file' field ({})",
            e.body_text()
        ))
    })?;
    let mut file = None;
    let mut language = None;
    let mut prompt = None;
    let mut response_format = ResponseFormat::default();
    let mut temperature = 0.0;
    let mut word_timestamps = false;
    let mut beam_size = 1;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, max_upload_bytes))?
    {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => file = Some(read_limited(field, max_upload_bytes).await?),
            "language" => language = non_empty(text(field).await?),
            "prompt" => prompt = non_empty(text(field).await?),
            "response_format" => {
                let value = text(field).await?;
                response_format = ResponseFormat::parse(value.trim()).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "unknown response_format '{}'; use json, text, srt, vtt or verbose_json",
                        truncate(&value)
                    ))
                })?;
            }
            "temperature" => temperature = parse_temperature(&text(field).await?)?,
            // Not in OpenAI's API: whisper.cpp's beam search, slower and sometimes more accurate.
            "beam_size" => beam_size = parse_beam_size(&text(field).await?)?,
            "timestamp_granularities[]" | "timestamp_granularities" => {
                match text(field).await?.trim() {
                    "word" => word_timestamps = true,
                    "segment" => {}
                    other => {
                        return Err(ApiError::BadRequest(format!(
                            "unknown timestamp granularity '{}'; use word or segment",
                            truncate(other)
                        )));
                    }
                }
            }
            // `model` names the model; one is loaded, so any name is served by it. Other
            // fields are ignored as OpenAI's API adds them.
            _ => {
                text(field).await?;
            }
        }
    }
    let file = file.ok_or_else(|| {
        ApiError::BadRequest("the form has no 'file' field with the audio".into())
    })?;
    Ok(AudioForm {
        file,
        language,
        prompt,
        response_format,
        temperature,
        word_timestamps,
        beam_size,
    })
}

fn multipart_error(e: MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::BadRequest(format!("malformed multipart body: {}", e.body_text()))
    }
}

async fn read_limited(mut field: Field<'_>, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut data = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
        if data.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

async fn text(field: Field<'_>) -> Result<String, ApiError> {
    let bytes = read_limited(field, MAX_TEXT_FIELD_BYTES)
        .await
        .map_err(|e| match e {
            ApiError::PayloadTooLarge { .. } => {
                ApiError::BadRequest("a text field is longer than 64 KiB".into())
            }
            other => other,
        })?;
    String::from_utf8(bytes).map_err(|_| ApiError::BadRequest("a text field is not UTF-8".into()))
}

fn non_empty(value: String) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

fn parse_temperature(value: &str) -> Result<f32, ApiError> {
    value
        .trim()
        .parse::<f32>()
        .ok()
        .filter(|t| (0.0..=1.0).contains(t))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "temperature must be a number from 0 to 1, not '{}'",
                truncate(value)
            ))
        })
}

fn parse_beam_size(value: &str) -> Result<usize, ApiError> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_BEAM_SIZE).contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "beam_size must be a whole number from 1 (greedy) to {MAX_BEAM_SIZE}, not '{}'",
                truncate(value)
            ))
        })
}

/// Echoes at most a little of what the user sent back in messages.
fn truncate(value: &str) -> String {
    value.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_must_be_between_zero_and_one() {
        assert!(matches!(parse_temperature("0.2"), Ok(t) if (t - 0.2).abs() < 1e-6));
        assert!(parse_temperature("1.5").is_err());
        assert!(parse_temperature("hot").is_err());
    }

    #[test]
    fn beam_size_is_a_whole_number_from_one_to_eight() {
        assert_eq!(parse_beam_size(" 5 ").ok(), Some(5));
        assert_eq!(parse_beam_size("1").ok(), Some(1));
        for bad in ["0", "9", "2.5", "-1", "wide", ""] {
            assert!(parse_beam_size(bad).is_err(), "{bad:?}");
        }
    }
}
