//! The multipart form of the OpenAI audio endpoints.

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::http::StatusCode;
use std::time::Duration;
use tokio::time::Instant;

use super::chunking::ChunkingFields;
use crate::engine::vad::Chunking;
use crate::error::ApiError;
use crate::format::ResponseFormat;

#[derive(Debug)]
pub struct AudioForm {
    pub file: Vec<u8>,
    pub language: Option<String>,
    pub prompt: Option<String>,
    pub delivery: Delivery,
    pub temperature: f32,
    pub word_timestamps: bool,
    /// Beams for beam search; 1 decodes greedily (the default, as OpenAI's API does).
    pub beam_size: usize,
    /// `chunking_strategy`, when the form names one.
    pub chunking: Option<Chunking>,
}

/// How the transcript goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Whole, once done, in a response format.
    Whole(ResponseFormat),
    /// As OpenAI's `transcript.text.delta` and `.done` server-sent events (`stream=true`), with
    /// each token's log probability when `include[]=logprobs` asks.
    Stream { logprobs: bool },
}

/// whisper.cpp runs at most 8 decoders at once.
pub const MAX_BEAM_SIZE: usize = 8;

/// Text fields are short; anything longer is a mistake or an attack.
const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;

/// How fast an upload must arrive: within `timeout`, plus one second per `min_bytes_per_second`
/// bytes received. A client that trickles its body is cut off; a slow but steady link is not.
#[derive(Debug, Clone, Copy)]
pub struct UploadPace {
    pub timeout: Duration,
    pub min_bytes_per_second: u64,
}

impl UploadPace {
    /// Time allowed for an upload of which `received` bytes have arrived.
    pub fn allowance(&self, received: u64) -> Duration {
        self.timeout + Duration::from_secs_f64(received as f64 / self.min_bytes_per_second as f64)
    }
}

/// The running deadline of one upload.
struct UploadClock {
    pace: UploadPace,
    started: Instant,
    received: u64,
}

impl UploadClock {
    fn start(pace: UploadPace) -> Self {
        Self {
            pace,
            started: Instant::now(),
            received: 0,
        }
    }

    /// Awaits the next piece of the body, or fails once the upload has fallen behind its pace.
    async fn within<T>(&self, next: impl Future<Output = T>) -> Result<T, ApiError> {
        let deadline = self.started + self.pace.allowance(self.received);
        tokio::time::timeout_at(deadline, next)
            .await
            .map_err(|_| ApiError::UploadTooSlow {
                timeout_secs: self.pace.timeout.as_secs_f64(),
                min_rate: self.pace.min_bytes_per_second,
            })
    }
}

pub async fn read(
    multipart: Result<Multipart, MultipartRejection>,
    max_upload_bytes: usize,
    pace: UploadPace,
) -> Result<AudioForm, ApiError> {
    let mut clock = UploadClock::start(pace);
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
    let mut logprobs = false;
    let mut stream = false;
    let mut chunking = ChunkingFields::default();
    while let Some(field) = clock
        .within(multipart.next_field())
        .await?
        .map_err(|e| multipart_error(e, max_upload_bytes))?
    {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => file = Some(read_limited(field, max_upload_bytes, &mut clock).await?),
            "language" => language = non_empty(text(field, &mut clock).await?),
            "prompt" => prompt = non_empty(text(field, &mut clock).await?),
            "response_format" => {
                let value = text(field, &mut clock).await?;
                response_format = ResponseFormat::parse(value.trim()).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "unknown response_format '{}'; use json, text, srt, vtt or verbose_json",
                        truncate(&value)
                    ))
                })?;
            }
            "temperature" => temperature = parse_temperature(&text(field, &mut clock).await?)?,
            "stream" => stream = parse_stream(&text(field, &mut clock).await?)?,
            // Not in OpenAI's API: whisper.cpp's beam search, slower and sometimes more accurate.
            "beam_size" => beam_size = parse_beam_size(&text(field, &mut clock).await?)?,
            "timestamp_granularities[]" | "timestamp_granularities" => {
                match text(field, &mut clock).await?.trim() {
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
            "include[]" | "include" => match text(field, &mut clock).await?.trim() {
                "logprobs" => logprobs = true,
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unknown include '{}'; the one known is logprobs",
                        truncate(other)
                    )));
                }
            },
            // `model` names the model; one is loaded, so any name is served by it. Other
            // fields are ignored as OpenAI's API adds them.
            _ => {
                let value = text(field, &mut clock).await?;
                chunking.take(&name, &value);
            }
        }
    }
    let file = file.ok_or_else(|| {
        ApiError::BadRequest("the form has no 'file' field with the audio".into())
    })?;
    let delivery = delivery(response_format, logprobs, stream)?;
    let chunking = chunking.resolve()?;
    Ok(AudioForm {
        file,
        language,
        prompt,
        delivery,
        temperature,
        word_timestamps,
        beam_size,
        chunking,
    })
}

/// How the form asks for its transcript: streamed events carry text (and log probabilities),
/// so a stream can stand for json or text, not for the formats with times.
fn delivery(format: ResponseFormat, logprobs: bool, stream: bool) -> Result<Delivery, ApiError> {
    if !stream {
        return with_logprobs(format, logprobs).map(Delivery::Whole);
    }
    match format {
        ResponseFormat::Json | ResponseFormat::Text => Ok(Delivery::Stream { logprobs }),
        _ => Err(ApiError::BadRequest(
            "stream=true sends transcript.text events, which carry text only: use \
             response_format json or text"
                .into(),
        )),
    }
}

/// `include[]=logprobs` asks for the json body with each token's log probability; as in
/// OpenAI's API, no other format carries them.
fn with_logprobs(format: ResponseFormat, logprobs: bool) -> Result<ResponseFormat, ApiError> {
    match (format, logprobs) {
        (format, false) => Ok(format),
        (ResponseFormat::Json, true) => Ok(ResponseFormat::JsonWithLogprobs),
        (_, true) => Err(ApiError::BadRequest(
            "include[]=logprobs works with response_format json only".into(),
        )),
    }
}

fn multipart_error(e: MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::BadRequest(format!("malformed multipart body: {}", e.body_text()))
    }
}

async fn read_limited(
    mut field: Field<'_>,
    limit: usize,
    clock: &mut UploadClock,
) -> Result<Vec<u8>, ApiError> {
    let mut data = Vec::new();
    while let Some(chunk) = clock
        .within(field.chunk())
        .await?
        .map_err(|e| multipart_error(e, limit))?
    {
        if data.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        clock.received += chunk.len() as u64;
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

async fn text(field: Field<'_>, clock: &mut UploadClock) -> Result<String, ApiError> {
    let bytes = read_limited(field, MAX_TEXT_FIELD_BYTES, clock)
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

fn parse_stream(value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::BadRequest(format!(
            "stream must be true or false, not '{}'",
            truncate(value)
        ))),
    }
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
    fn an_upload_gets_its_timeout_plus_a_second_per_min_rate_bytes() {
        let pace = UploadPace {
            timeout: Duration::from_secs(30),
            min_bytes_per_second: 4096,
        };
        assert_eq!(pace.allowance(0), Duration::from_secs(30));
        assert_eq!(pace.allowance(4096 * 10), Duration::from_secs(40));
        // A byte a second never earns more than a thousandth of a second per byte.
        assert!(pace.allowance(100) < Duration::from_secs_f64(30.1));
    }

    #[test]
    fn temperature_must_be_between_zero_and_one() {
        assert!(matches!(parse_temperature("0.2"), Ok(t) if (t - 0.2).abs() < 1e-6));
        assert!(parse_temperature("1.5").is_err());
        assert!(parse_temperature("hot").is_err());
    }

    #[test]
    fn stream_is_true_or_false_and_streams_json_or_text_only() {
        assert_eq!(parse_stream(" TRUE ").ok(), Some(true));
        assert_eq!(parse_stream("false").ok(), Some(false));
        assert!(parse_stream("yes").is_err());
        let stream = |format, logprobs| delivery(format, logprobs, true).ok();
        assert_eq!(
            stream(ResponseFormat::Json, true),
            Some(Delivery::Stream { logprobs: true })
        );
        assert_eq!(
            stream(ResponseFormat::Text, false),
            Some(Delivery::Stream { logprobs: false })
        );
        for format in [
            ResponseFormat::Srt,
            ResponseFormat::Vtt,
            ResponseFormat::VerboseJson,
        ] {
            assert_eq!(stream(format, false), None, "{format:?}");
        }
        assert_eq!(
            delivery(ResponseFormat::Json, true, false).ok(),
            Some(Delivery::Whole(ResponseFormat::JsonWithLogprobs))
        );
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
