//! `json` and `verbose_json` bodies, shaped like OpenAI's.

use serde_json::{Value, json};

use super::Task;
use crate::engine::transcript::{TokenLogprob, Transcript};

pub fn simple(transcript: &Transcript) -> Value {
    json!({ "text": transcript.text() })
}

/// `simple` and OpenAI's `logprobs`: every text token, its text, log probability and bytes.
pub fn with_logprobs(transcript: &Transcript) -> Value {
    let tokens = transcript.segments.iter().flat_map(|s| &s.logprobs);
    json!({ "text": transcript.text(), "logprobs": logprob_list(tokens) })
}

/// OpenAI's `logprobs` list: each token's text, log probability and bytes.
pub(super) fn logprob_list<'a>(tokens: impl IntoIterator<Item = &'a TokenLogprob>) -> Vec<Value> {
    tokens
        .into_iter()
        .map(|t| {
            json!({
                "token": String::from_utf8_lossy(&t.bytes),
                "logprob": t.logprob,
                "bytes": t.bytes,
            })
        })
        .collect()
}

pub fn verbose(transcript: &Transcript, task: Task) -> Value {
    let segments: Vec<Value> = transcript
        .segments
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": s.tokens,
                "temperature": 0.0,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": 0.0,
                "no_speech_prob": s.no_speech_prob,
            })
        })
        .collect();
    let mut body = json!({
        "task": match task { Task::Transcribe => "transcribe", Task::Translate => "translate" },
        "language": transcript.language,
        "duration": transcript.duration,
        "text": transcript.text(),
        "segments": segments,
    });
    if !transcript.words.is_empty() {
        body["words"] = transcript
            .words
            .iter()
            .map(|w| json!({ "word": w.word, "start": w.start, "end": w.end }))
            .collect();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixture;

    #[test]
    fn logprobs_list_every_token_with_text_logprob_and_bytes() {
        let body = with_logprobs(&fixture::transcript());
        assert_eq!(body["text"], "Hello world. Bye.");
        assert_eq!(body["logprobs"][0]["token"], " Hello world.");
        assert_eq!(body["logprobs"][0]["logprob"], -0.25);
        assert_eq!(body["logprobs"][1]["bytes"], json!(b" Bye.".to_vec()));
        assert_eq!(body["logprobs"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn verbose_has_language_duration_segments_and_words() {
        let body = verbose(&fixture::transcript(), Task::Transcribe);
        assert_eq!(body["language"], "english");
        assert_eq!(body["duration"], 3726.5);
        assert_eq!(body["segments"][1]["start"], 3725.0);
        assert_eq!(body["words"][0]["word"], "Hello");
        assert_eq!(body["text"], "Hello world. Bye.");
    }
}
