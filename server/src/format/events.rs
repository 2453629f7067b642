//! The server-sent events of a streamed transcription (`stream=true`), shaped like OpenAI's:
//! a `transcript.text.delta` per segment, then `transcript.text.done`; or an error event, which
//! the openai SDK raises as an `APIError`.

use serde_json::{Value, json};

use super::json::logprob_list;
use crate::engine::transcript::{Segment, Transcript};
use crate::error::ApiError;

/// whisper's encoder turns each second of audio into 50 positions: the input tokens of `usage`.
const AUDIO_TOKENS_PER_SECOND: f64 = 50.0;

/// One segment's text as a delta. `start` and `end` (seconds) are this server's own addition:
/// the segment's times, for clients that show them.
pub fn delta(text: &str, segment: &Segment, logprobs: bool) -> Value {
    let mut event = json!({
        "type": "transcript.text.delta",
        "delta": text,
        "start": segment.start,
        "end": segment.end,
    });
    if logprobs {
        event["logprobs"] = logprob_list(&segment.logprobs).into();
    }
    event
}

/// The whole text, and `usage` in tokens: the audio's encoder positions in, text tokens out.
pub fn done(transcript: &Transcript, logprobs: bool) -> Value {
    let audio_tokens = (transcript.duration * AUDIO_TOKENS_PER_SECOND).ceil() as u64;
    let text_tokens: usize = transcript.segments.iter().map(|s| s.tokens.len()).sum();
    let mut event = json!({
        "type": "transcript.text.done",
        "text": transcript.text(),
        "usage": {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "input_token_details": { "audio_tokens": audio_tokens, "text_tokens": 0 },
            "output_tokens": text_tokens,
            "total_tokens": audio_tokens + text_tokens as u64,
        },
    });
    if logprobs {
        let all: Vec<_> = transcript
            .segments
            .iter()
            .flat_map(|s| &s.logprobs)
            .collect();
        event["logprobs"] = logprob_list(all).into();
    }
    event
}

/// An error after the first event: the API's error body, with OpenAI's event type.
pub fn error(error: &ApiError) -> Value {
    let mut event = error.body();
    event["type"] = "error".into();
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixture;

    #[test]
    fn a_delta_carries_its_text_times_and_asked_for_logprobs() {
        let transcript = fixture::transcript();
        let segment = &transcript.segments[1];
        let plain = delta(" Bye.", segment, false);
        assert_eq!(plain["type"], "transcript.text.delta");
        assert_eq!(plain["delta"], " Bye.");
        assert_eq!(plain["start"], 3725.0);
        assert!(plain.get("logprobs").is_none());
        let with = delta(" Bye.", segment, true);
        assert_eq!(with["logprobs"][0]["token"], " Bye.");
        assert_eq!(with["logprobs"][0]["bytes"], json!(b" Bye.".to_vec()));
    }

    #[test]
    fn done_has_the_whole_text_and_token_usage() {
        let event = done(&fixture::transcript(), true);
        assert_eq!(event["type"], "transcript.text.done");
        assert_eq!(event["text"], "Hello world. Bye.");
        // 3,726.5 s of audio at 50 positions a second; two segments of two tokens.
        assert_eq!(event["usage"]["input_tokens"], 186_325);
        assert_eq!(event["usage"]["output_tokens"], 4);
        assert_eq!(event["usage"]["total_tokens"], 186_329);
        assert_eq!(event["logprobs"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn an_error_event_has_the_error_body_the_sdk_raises() {
        let event = error(&ApiError::Timeout { limit_secs: 5.0 });
        assert_eq!(event["type"], "error");
        assert_eq!(event["error"]["code"], "timeout");
        assert!(
            event["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("time limit"))
        );
    }
}
