//! Response formats of the OpenAI audio API.

pub mod events;
pub mod json;
pub mod srt;
pub mod text;
pub mod vtt;

use crate::engine::transcript::Transcript;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseFormat {
    #[default]
    Json,
    /// `json` with each token's log probability (`include[]=logprobs`).
    JsonWithLogprobs,
    Text,
    Srt,
    Vtt,
    VerboseJson,
}

impl ResponseFormat {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "json" => Some(Self::Json),
            "text" => Some(Self::Text),
            "srt" => Some(Self::Srt),
            "vtt" => Some(Self::Vtt),
            "verbose_json" => Some(Self::VerboseJson),
            _ => None,
        }
    }
}

/// "transcribe" or "translate", as verbose_json reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Transcribe,
    Translate,
}

/// A rendered body and its content type.
pub struct Rendered {
    pub content_type: &'static str,
    pub body: String,
}

pub fn render(transcript: &Transcript, format: ResponseFormat, task: Task) -> Rendered {
    match format {
        ResponseFormat::Json => json_body(json::simple(transcript)),
        ResponseFormat::JsonWithLogprobs => json_body(json::with_logprobs(transcript)),
        ResponseFormat::VerboseJson => json_body(json::verbose(transcript, task)),
        ResponseFormat::Text => plain(text::render(transcript), "text/plain; charset=utf-8"),
        ResponseFormat::Srt => plain(srt::render(transcript), "application/x-subrip"),
        ResponseFormat::Vtt => plain(vtt::render(transcript), "text/vtt; charset=utf-8"),
    }
}

fn json_body(value: serde_json::Value) -> Rendered {
    Rendered {
        content_type: "application/json",
        body: value.to_string(),
    }
}

fn plain(body: String, content_type: &'static str) -> Rendered {
    Rendered { content_type, body }
}

/// Splits seconds into (hours, minutes, seconds, milliseconds) for subtitle timestamps.
pub(crate) fn clock(seconds: f64) -> (u64, u64, u64, u64) {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    (
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000,
    )
}

#[cfg(test)]
pub(crate) mod fixture {
    use crate::engine::transcript::{Segment, TokenLogprob, Transcript, Word};

    pub fn transcript() -> Transcript {
        let segment = |id, start, end, text: &str| Segment {
            id,
            start,
            end,
            text: text.to_string(),
            tokens: vec![1, 2],
            avg_logprob: -0.2,
            no_speech_prob: 0.01,
            logprobs: vec![TokenLogprob {
                bytes: text.as_bytes().to_vec(),
                logprob: -0.25,
            }],
        };
        Transcript {
            language: "english".into(),
            duration: 3726.5,
            segments: vec![
                segment(0, 0.0, 1.5, " Hello world."),
                segment(1, 3725.0, 3726.5, " Bye."),
            ],
            words: vec![Word {
                word: "Hello".into(),
                start: 0.0,
                end: 0.5,
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_openai_formats() {
        assert_eq!(
            ResponseFormat::parse("verbose_json"),
            Some(ResponseFormat::VerboseJson)
        );
        assert_eq!(ResponseFormat::parse("xml"), None);
    }

    #[test]
    fn clock_splits_hours_minutes_seconds_millis() {
        assert_eq!(clock(3725.0425), (1, 2, 5, 43));
    }
}
