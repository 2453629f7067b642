//! Audio with no words in it (silence, noise, music) transcribes as nothing, in every response
//! format: no `[BLANK_AUDIO]`, `(music)`, `♪` or invented words.

use serde_json::Value;

use crate::fixtures;
use crate::server::shared;

const TRANSCRIPTIONS: &str = "/v1/audio/transcriptions";

/// Each response format, and what its body is when there is nothing to say. (An empty text
/// holds no marker; srt and vtt hold no cue to carry one.)
fn assert_empty(fixture: &str, format: &str, body: &str) {
    let context = format!("{fixture} as {format}: {body:?}");
    match format {
        "json" => {
            let json: Value =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {context}"));
            assert_eq!(json["text"], "", "{context}");
        }
        "verbose_json" => {
            let json: Value =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {context}"));
            assert_eq!(json["text"], "", "{context}");
            assert_eq!(json["segments"], Value::Array(vec![]), "{context}");
            assert!(
                json["words"].is_null() || json["words"] == Value::Array(vec![]),
                "{context}"
            );
            assert!(
                json["duration"].as_f64().is_some_and(|d| d > 7.0),
                "{context}"
            );
        }
        "text" | "srt" => assert_eq!(body.trim(), "", "{context}"),
        "vtt" => assert_eq!(body.trim(), "WEBVTT", "{context}"),
        other => panic!("no expectation for {other}"),
    }
}

async fn assert_transcribes_as_nothing(fixture: &str) {
    let audio = fixtures::bytes(fixture);
    for format in ["json", "verbose_json", "text", "srt", "vtt"] {
        let mut fields = vec![("response_format", format)];
        if format == "verbose_json" {
            fields.push(("timestamp_granularities[]", "word"));
            fields.push(("timestamp_granularities[]", "segment"));
        }
        let response = shared()
            .post_audio(TRANSCRIPTIONS, audio.clone(), fixture, &fields)
            .await;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{fixture} as {format}: {body}");
        assert_empty(fixture, format, &body);
    }
}

#[tokio::test]
async fn digital_silence_is_an_empty_transcript() {
    assert_transcribes_as_nothing("silence.wav").await;
}

#[tokio::test]
async fn quiet_pink_noise_is_an_empty_transcript() {
    assert_transcribes_as_nothing("pink_noise.wav").await;
}

#[tokio::test]
async fn music_without_words_is_an_empty_transcript() {
    assert_transcribes_as_nothing("music.wav").await;
}
