//! Real speech through the HTTP API gives the exact sentence, in every format and container.

use serde_json::Value;

use crate::fixtures::{self, EXPECTED, normalise};
use crate::server::shared;

const TRANSCRIPTIONS: &str = "/v1/audio/transcriptions";

async fn transcribe_text(fixture: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = shared()
        .post_audio(TRANSCRIPTIONS, fixtures::bytes(fixture), fixture, fields)
        .await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn assert_json_text(fixture: &str) {
    let (status, body) = transcribe_text(fixture, &[("model", "whisper-1")]).await;
    assert_eq!(status, 200, "{fixture}: {body}");
    let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert_eq!(
        normalise(json["text"].as_str().unwrap_or_default()),
        normalise(EXPECTED),
        "{fixture}"
    );
}

#[tokio::test]
async fn wav_16k_mono_json_gives_exact_text() {
    assert_json_text("speech.wav").await;
}

#[tokio::test]
async fn flac_gives_exact_text() {
    assert_json_text("speech.flac").await;
}

#[tokio::test]
async fn mp3_gives_exact_text() {
    assert_json_text("speech.mp3").await;
}

#[tokio::test]
async fn ogg_vorbis_gives_exact_text() {
    assert_json_text("speech.ogg").await;
}

#[tokio::test]
async fn m4a_aac_gives_exact_text() {
    assert_json_text("speech.m4a").await;
}

#[tokio::test]
async fn wav_8k_stereo_is_resampled_and_gives_exact_text() {
    assert_json_text("speech_8k_stereo.wav").await;
}

#[tokio::test]
async fn float_44k1_wav_gives_exact_text() {
    assert_json_text("speech_float.wav").await;
}

#[tokio::test]
async fn pcm24_48k_wav_gives_exact_text() {
    assert_json_text("speech_24bit.wav").await;
}

#[tokio::test]
async fn ogg_opus_is_refused_with_a_clear_415() {
    let (status, body) = transcribe_text("speech.opus", &[]).await;
    assert_eq!(status, 415, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(json["error"]["code"], "unsupported_format");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("codec")
    );
}

#[tokio::test]
async fn text_format_is_the_plain_sentence() {
    let (status, body) = transcribe_text("speech.wav", &[("response_format", "text")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(normalise(&body), normalise(EXPECTED));
}

#[tokio::test]
async fn beam_search_gives_the_exact_sentence() {
    let (status, body) = transcribe_text("speech.wav", &[("beam_size", "5")]).await;
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert_eq!(
        normalise(json["text"].as_str().unwrap_or_default()),
        normalise(EXPECTED)
    );
}

/// Cue timings of an SRT or VTT body, checked for order, then the cue text.
fn subtitle_text(body: &str, separator: &str) -> String {
    let mut text = Vec::new();
    let mut last_end = 0.0;
    for line in body.lines() {
        if let Some((start, end)) = line.split_once(" --> ") {
            let secs = |t: &str| -> f64 {
                let t = t.replace(separator, ".");
                t.split(':').fold(0.0, |acc, part| {
                    acc * 60.0 + part.parse::<f64>().unwrap_or(f64::NAN)
                })
            };
            let (start, end) = (secs(start), secs(end));
            assert!(
                start >= last_end - 1e-9 && end >= start,
                "bad cue timing {line}"
            );
            last_end = end;
        } else if !line.trim().is_empty() && line.parse::<u32>().is_err() && line != "WEBVTT" {
            text.push(line.to_string());
        }
    }
    text.join(" ")
}

#[tokio::test]
async fn srt_format_has_ordered_cues_with_the_sentence() {
    let (status, body) = transcribe_text("speech.wav", &[("response_format", "srt")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("1\n00:00:0"), "{body}");
    assert_eq!(normalise(&subtitle_text(&body, ",")), normalise(EXPECTED));
}

#[tokio::test]
async fn vtt_format_has_header_and_ordered_cues_with_the_sentence() {
    let (status, body) = transcribe_text("speech.wav", &[("response_format", "vtt")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("WEBVTT\n\n"), "{body}");
    assert_eq!(normalise(&subtitle_text(&body, ".")), normalise(EXPECTED));
}

#[tokio::test]
async fn verbose_json_has_language_duration_segments_and_words() {
    let (status, body) = transcribe_text(
        "speech.wav",
        &[
            ("response_format", "verbose_json"),
            ("timestamp_granularities[]", "word"),
            ("timestamp_granularities[]", "segment"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert_eq!(json["task"], "transcribe");
    assert_eq!(json["language"], "english");
    let duration = json["duration"].as_f64().unwrap_or_default();
    assert!((3.0..6.0).contains(&duration), "duration {duration}");
    assert_eq!(
        normalise(json["text"].as_str().unwrap_or_default()),
        normalise(EXPECTED)
    );

    let segments = json["segments"].as_array().cloned().unwrap_or_default();
    assert!(!segments.is_empty());
    let mut last = 0.0;
    for s in &segments {
        let (start, end) = (
            s["start"].as_f64().unwrap_or(-1.0),
            s["end"].as_f64().unwrap_or(-1.0),
        );
        assert!(
            start >= last && end >= start && end <= duration + 1e-6,
            "segment {s}"
        );
        last = end;
    }

    let words = json["words"].as_array().cloned().unwrap_or_default();
    let joined: Vec<&str> = words.iter().filter_map(|w| w["word"].as_str()).collect();
    assert_eq!(normalise(&joined.join(" ")), normalise(EXPECTED));
    let mut last = 0.0;
    for w in &words {
        let (start, end) = (
            w["start"].as_f64().unwrap_or(-1.0),
            w["end"].as_f64().unwrap_or(-1.0),
        );
        assert!(
            start >= last && end >= start && end <= duration + 1e-6,
            "word {w}"
        );
        last = end;
    }
}

#[tokio::test]
async fn translations_endpoint_returns_english_text() {
    let response = shared()
        .post_audio(
            "/v1/audio/translations",
            fixtures::bytes("speech.wav"),
            "speech.wav",
            &[("model", "whisper-1"), ("response_format", "verbose_json")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap_or_default();
    assert_eq!(json["task"], "translate");
    assert_eq!(
        normalise(json["text"].as_str().unwrap_or_default()),
        normalise(EXPECTED)
    );
}

#[tokio::test]
async fn models_lists_the_loaded_model() {
    let server = shared();
    let response = server
        .client
        .get(server.url("/v1/models"))
        .bearer_auth(crate::server::API_KEY)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap_or_default();
    assert_eq!(json["object"], "list");
    assert_eq!(json["data"][0]["id"], "whisper-1");
    assert_eq!(json["data"][0]["object"], "model");
}

#[tokio::test]
async fn json_with_logprobs_lists_every_token_of_the_text() {
    let (status, body) = transcribe_text(
        "speech.wav",
        &[("response_format", "json"), ("include[]", "logprobs")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
    let tokens = json["logprobs"].as_array().cloned().unwrap_or_default();
    let joined: String = tokens
        .iter()
        .map(|t| t["token"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(normalise(&joined), normalise(EXPECTED), "{body}");
    assert_eq!(joined.trim(), json["text"], "{body}");
    for token in &tokens {
        let logprob = token["logprob"].as_f64().unwrap_or(f64::NAN);
        assert!((-30.0..=0.0).contains(&logprob), "{token}");
        let bytes: Vec<u8> = serde_json::from_value(token["bytes"].clone()).unwrap_or_default();
        assert_eq!(token["token"], *String::from_utf8_lossy(&bytes), "{token}");
    }
}

#[tokio::test]
async fn json_without_include_has_no_logprobs() {
    let (status, body) = transcribe_text("speech.wav", &[("response_format", "json")]).await;
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert!(json.get("logprobs").is_none(), "{body}");
}
