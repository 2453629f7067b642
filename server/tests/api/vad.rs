//! `chunking_strategy`: voice activity detection with the Silero model the project's importer
//! converted, on recordings with long pauses of silence and noise. Only the speech is decoded,
//! the times are the recording's, windows of long audio are cut at the pauses, and a server
//! without a VAD model says so.

use std::sync::OnceLock;

use serde_json::Value;

use crate::fixtures::{self, EXPECTED, SECOND_SENTENCE, normalise};
use crate::server::{TestServer, shared, start};

const TRANSCRIPTIONS: &str = "/v1/audio/transcriptions";
/// In paused.wav the first sentence is said from 6 s; the second after 6 s of noise and 6 s of
/// silence that follow the first (which lasts about 4.5 s).
const FIRST_STARTS: f64 = 6.0;
const SECOND_STARTS: f64 = 6.0 + 4.5 + 12.0;

/// A server with the VAD model: shared, or (`own_vad_server`) for a test that reads metrics.
fn with_vad() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| own_vad_server(&[]))
}

fn own_vad_server(flags: &[&str]) -> TestServer {
    let model = fixtures::vad_model();
    let mut all = vec![
        "--queue",
        "64",
        "--api-key",
        crate::server::API_KEY,
        "--vad-model",
        model.to_str().unwrap_or_default(),
    ];
    all.extend_from_slice(flags);
    start(&all)
}

async fn verbose(server: &TestServer, fixture: &str, fields: &[(&str, &str)]) -> Value {
    let mut all = vec![("response_format", "verbose_json")];
    all.extend_from_slice(fields);
    let response = server
        .post_audio(TRANSCRIPTIONS, fixtures::bytes(fixture), fixture, &all)
        .await;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{fixture} {fields:?}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn segment_times(json: &Value) -> Vec<(f64, f64)> {
    json["segments"]
        .as_array()
        .unwrap_or_else(|| panic!("no segments: {json}"))
        .iter()
        .map(|s| {
            (
                s["start"].as_f64().unwrap_or(-1.0),
                s["end"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

#[tokio::test]
async fn auto_decodes_the_speech_with_the_recordings_times() {
    let server = &own_vad_server(&[]);
    let skipped_before = server
        .metric("whisper_vad_skipped_audio_seconds_total", &[])
        .await;
    let json = verbose(server, "paused.wav", &[("chunking_strategy", "auto")]).await;
    let expected = normalise(&format!("{EXPECTED} {SECOND_SENTENCE}"));
    assert_eq!(
        normalise(json["text"].as_str().unwrap_or_default()),
        expected,
        "{json}"
    );
    // The duration is the recording's, not the speech's.
    let duration = json["duration"].as_f64().unwrap_or_default();
    assert!(duration > 24.0, "duration {duration}");
    let times = segment_times(&json);
    let first = times.first().copied().unwrap_or_default();
    let last = times.last().copied().unwrap_or_default();
    assert!(
        (first.0 - FIRST_STARTS).abs() < 1.0,
        "the first sentence is said at {FIRST_STARTS} s: {times:?}"
    );
    assert!(
        (last.0 - SECOND_STARTS).abs() < 1.0 && last.1 <= duration,
        "the second sentence is said from {SECOND_STARTS} s: {times:?}"
    );
    assert!(
        first.1 < SECOND_STARTS - 6.0,
        "the first sentence ends before the pause: {times:?}"
    );
    let skipped = server
        .metric("whisper_vad_skipped_audio_seconds_total", &[])
        .await
        - skipped_before;
    // 18 s of pauses, less the VAD's padding.
    assert!((12.0..=18.5).contains(&skipped), "{skipped} s not decoded");
}

#[tokio::test]
async fn without_chunking_the_same_server_decodes_the_whole_recording() {
    let server = own_vad_server(&[]);
    for fields in [&[][..], &[("chunking_strategy", "none")][..]] {
        let json = verbose(&server, "paused.wav", fields).await;
        let text = normalise(json["text"].as_str().unwrap_or_default());
        assert!(
            text.starts_with(&normalise(EXPECTED)) && text.ends_with("lemons makes fine punch"),
            "{fields:?}: {json}"
        );
    }
    let vad_runs = server.metric("whisper_vad_duration_seconds", &[]).await;
    assert_eq!(vad_runs, 0.0, "the VAD ran without chunking_strategy");
}

#[tokio::test]
async fn a_server_vad_object_in_brackets_or_json_is_honoured() {
    let server = with_vad();
    let expected = normalise(&format!("{EXPECTED} {SECOND_SENTENCE}"));
    let keyed = [
        ("chunking_strategy[type]", "server_vad"),
        ("chunking_strategy[threshold]", "0.5"),
        ("chunking_strategy[prefix_padding_ms]", "300"),
        ("chunking_strategy[silence_duration_ms]", "500"),
    ];
    let json = verbose(server, "paused.wav", &keyed).await;
    assert_eq!(
        normalise(json["text"].as_str().unwrap_or_default()),
        expected,
        "{json}"
    );
    let object = r#"{"type": "server_vad", "threshold": 0.5}"#;
    let json = verbose(server, "paused.wav", &[("chunking_strategy", object)]).await;
    assert_eq!(
        normalise(json["text"].as_str().unwrap_or_default()),
        expected,
        "{json}"
    );
    // A threshold no frame reaches finds no speech: nothing is decoded.
    let never = r#"{"type": "server_vad", "threshold": 1.0}"#;
    let json = verbose(server, "paused.wav", &[("chunking_strategy", never)]).await;
    assert_eq!(json["text"], "", "{json}");
}

#[tokio::test]
async fn silence_alone_is_not_decoded_at_all_and_noise_stays_empty() {
    let server = &own_vad_server(&[]);
    let decodes_before = server
        .metric("whisper_inference_duration_seconds", &[])
        .await;
    let json = verbose(server, "silence.wav", &[("chunking_strategy", "auto")]).await;
    assert_eq!(json["text"], "", "{json}");
    assert_eq!(json["segments"], Value::Array(vec![]), "{json}");
    assert!(json["duration"].as_f64().is_some_and(|d| d > 7.0), "{json}");
    let decodes = server
        .metric("whisper_inference_duration_seconds", &[])
        .await
        - decodes_before;
    assert_eq!(decodes, 0.0, "whisper ran on silence");
    // Silero takes some of sox's pink noise for speech; what whisper makes of it is still
    // nothing.
    let json = verbose(server, "pink_noise.wav", &[("chunking_strategy", "auto")]).await;
    assert_eq!(json["text"], "", "{json}");
}

#[tokio::test]
async fn long_speech_is_windowed_at_the_pauses_and_streams_on_the_recordings_timeline() {
    let server = &own_vad_server(&[]);
    let windows_before = server.metric("whisper_parallel_windows_total", &[]).await;
    let json = verbose(server, "paused_long.wav", &[("chunking_strategy", "auto")]).await;
    let expected = vec![normalise(EXPECTED); 8].join(" ");
    assert_eq!(
        normalise(json["text"].as_str().unwrap_or_default()),
        expected,
        "{json}"
    );
    let windows = server.metric("whisper_parallel_windows_total", &[]).await - windows_before;
    assert!(windows >= 2.0, "{windows} windows");
    // Sentence k is said from 6 + 10.5 k s (6 s of pause, then about 4.5 s of speech).
    let times = segment_times(&json);
    for (start, end) in &times {
        let into = (start - 6.0).rem_euclid(10.5);
        assert!(
            !(4.6..=10.0).contains(&into),
            "a segment starts in a pause: {times:?}"
        );
        assert!(end >= start, "{times:?}");
    }
    assert!(times.windows(2).all(|w| w[0].0 <= w[1].0), "{times:?}");

    // Streamed, the deltas carry the same times and join to the same text.
    let response = server
        .post_audio(
            TRANSCRIPTIONS,
            fixtures::bytes("paused_long.wav"),
            "paused_long.wav",
            &[("stream", "true"), ("chunking_strategy", "auto")],
        )
        .await;
    let body = response.text().await.unwrap_or_default();
    let events: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    let starts: Vec<f64> = events
        .iter()
        .filter(|e| e["type"] == "transcript.text.delta")
        .filter_map(|e| e["start"].as_f64())
        .collect();
    let json_starts: Vec<f64> = times.iter().map(|t| t.0).collect();
    assert_eq!(starts, json_starts, "{body}");
    let done = events.last().cloned().unwrap_or_default();
    assert_eq!(
        normalise(done["text"].as_str().unwrap_or_default()),
        expected,
        "{body}"
    );
}

#[tokio::test]
async fn a_server_without_a_vad_model_refuses_chunking_by_name() {
    let asking = |strategy: &'static str| async move {
        let fields = [("chunking_strategy", strategy)];
        shared()
            .post_audio(
                TRANSCRIPTIONS,
                fixtures::bytes("speech.wav"),
                "speech.wav",
                &fields,
            )
            .await
    };
    let response = asking("auto").await;
    assert_eq!(response.status().as_u16(), 400);
    let json: Value = response.json().await.unwrap_or_default();
    let message = json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("--vad-model"), "{json}");
    // Asking for the whole recording needs no VAD.
    assert_eq!(asking("none").await.status().as_u16(), 200);
}

#[tokio::test]
async fn default_chunking_auto_applies_to_requests_that_name_none() {
    let server = own_vad_server(&["--default-chunking", "auto"]);
    let json = verbose(&server, "paused.wav", &[]).await;
    let vad_runs = server.metric("whisper_vad_duration_seconds", &[]).await;
    assert_eq!(vad_runs, 1.0, "{json}");
    let times = segment_times(&json);
    assert!((times[0].0 - FIRST_STARTS).abs() < 1.0, "{times:?}");
    verbose(&server, "paused.wav", &[("chunking_strategy", "none")]).await;
    let vad_runs = server.metric("whisper_vad_duration_seconds", &[]).await;
    assert_eq!(vad_runs, 1.0, "none skips the VAD");
}
