//! `stream=true`: OpenAI's `transcript.text` server-sent events, as the windows of a recording
//! are decoded; HTTP errors before the first event, an error event after it; a client that
//! leaves mid-stream stops the inference.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixtures::{self, EXPECTED, normalise};
use crate::server::{TestServer, shared, start};

const TRANSCRIPTIONS: &str = "/v1/audio/transcriptions";

/// An event stream read as it arrives.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    fn of(response: reqwest::Response) -> Self {
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(response.status(), 200, "a stream answers 200");
        assert_eq!(content_type, "text/event-stream");
        let buffering = response.headers().get("x-accel-buffering");
        assert_eq!(buffering.map(|v| v.as_bytes()), Some(&b"no"[..]));
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event's JSON (comments, the keep-alives, skipped), or `None` at the end.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: String = block
                    .lines()
                    .filter_map(|line| line.strip_prefix("data: "))
                    .collect();
                if data.is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(&data).unwrap_or_else(|e| panic!("{data}: {e}")));
            }
            let chunk = self
                .response
                .chunk()
                .await
                .unwrap_or_else(|e| panic!("stream broke: {e}"))?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    async fn all(mut self) -> Vec<Value> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}

async fn stream(server: &TestServer, fixture: &str, fields: &[(&str, &str)]) -> Events {
    let mut fields = fields.to_vec();
    fields.push(("stream", "true"));
    Events::of(
        server
            .post_audio(TRANSCRIPTIONS, fixtures::bytes(fixture), fixture, &fields)
            .await,
    )
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

fn joined_deltas(events: &[Value]) -> String {
    of_type(events, "transcript.text.delta")
        .iter()
        .map(|e| e["delta"].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn deltas_join_to_the_done_text_which_is_the_sentence() {
    let events = stream(shared(), "speech.wav", &[]).await.all().await;
    let done = of_type(&events, "transcript.text.done");
    assert_eq!(done.len(), 1, "{events:?}");
    assert_eq!(
        events.last().map(|e| &e["type"]),
        Some(&"transcript.text.done".into())
    );
    let text = done[0]["text"].as_str().unwrap_or_default();
    assert_eq!(normalise(text), normalise(EXPECTED));
    assert_eq!(joined_deltas(&events).trim_end(), text);
    assert!(
        done[0]["usage"]["output_tokens"].as_u64() > Some(5),
        "{:?}",
        done[0]
    );
    // 4.5 s of audio, 50 encoder positions a second.
    assert!(
        done[0]["usage"]["input_tokens"].as_u64() > Some(200),
        "{:?}",
        done[0]
    );
    assert!(done[0].get("logprobs").is_none());
}

#[tokio::test]
async fn logprobs_stream_with_each_delta_and_in_the_done_event() {
    let fields = [("include[]", "logprobs")];
    let events = stream(shared(), "speech.wav", &fields).await.all().await;
    for delta in of_type(&events, "transcript.text.delta") {
        let tokens: String = delta["logprobs"]
            .as_array()
            .unwrap_or_else(|| panic!("no logprobs in {delta}"))
            .iter()
            .map(|t| t["token"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            tokens.trim(),
            delta["delta"].as_str().unwrap_or_default().trim()
        );
    }
    let done = of_type(&events, "transcript.text.done");
    assert!(
        done[0]["logprobs"].as_array().is_some_and(|l| l.len() > 5),
        "{:?}",
        done[0]
    );
}

#[tokio::test]
async fn a_long_recording_streams_its_windows_in_order_while_the_rest_decodes() {
    // Its own server: the shared one refuses audio this long, and its busy slots must be this
    // request's alone.
    let server = start(&[]);
    let mut events = stream(&server, "long.wav", &[]).await;
    let first = events.next().await.unwrap_or_else(|| panic!("no event"));
    assert_eq!(first["type"], "transcript.text.delta", "{first}");
    // Deltas sent all at once at the end would find the slot already free.
    let busy = server.metric("whisper_busy_slots", &[]).await;
    assert!(
        busy >= 1.0,
        "the first delta came after the inference ended"
    );

    let mut all = vec![first];
    all.extend(events.all().await);
    let deltas = of_type(&all, "transcript.text.delta");
    assert!(deltas.len() >= 8, "{} deltas", deltas.len());
    let starts: Vec<f64> = deltas.iter().filter_map(|d| d["start"].as_f64()).collect();
    assert_eq!(starts.len(), deltas.len());
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "out of order: {starts:?}"
    );
    assert!(starts.last() > Some(&100.0), "{starts:?}");
    let done = of_type(&all, "transcript.text.done");
    let text = done[0]["text"].as_str().unwrap_or_default();
    assert_eq!(joined_deltas(&all).trim_end(), text);
    let sentences = normalise(text).matches("quick brown fox").count();
    assert!(sentences >= 28, "{sentences} of 32 sentences in {text}");
}

#[tokio::test]
async fn errors_before_the_first_event_are_ordinary_http_errors() {
    let response = shared()
        .post_audio(
            TRANSCRIPTIONS,
            b"this is not audio".to_vec(),
            "notes.txt",
            &[("stream", "true")],
        )
        .await;
    assert!(response.status().is_client_error(), "{}", response.status());
    let body: Value = response.json().await.unwrap_or_default();
    assert!(body["error"]["message"].is_string(), "{body}");
}

#[tokio::test]
async fn a_failure_after_the_first_event_is_an_error_event_counted_under_its_reason() {
    // A limit no inference can meet: it runs out once the audio decoded and the stream began.
    let server = start(&[
        "--timeout-base-seconds",
        "0.001",
        "--timeout-per-audio-second",
        "0",
    ]);
    let events = stream(&server, "speech.wav", &[]).await.all().await;
    let last = events.last().unwrap_or_else(|| panic!("no event"));
    assert_eq!(last["type"], "error", "{events:?}");
    assert_eq!(last["error"]["code"], "timeout");
    assert!(of_type(&events, "transcript.text.done").is_empty());
    let labels = [("endpoint", "transcriptions"), ("reason", "timeout")];
    let errors = server
        .metric("whisper_transcription_errors_total", &labels)
        .await;
    assert_eq!(errors, 1.0);
    assert_eq!(server.metric("whisper_inflight_requests", &[]).await, 0.0);
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_stops_the_inference() {
    let server = start(&["--slots", "1"]);
    let mut events = stream(&server, "long.wav", &[]).await;
    let first = events.next().await.unwrap_or_else(|| panic!("no event"));
    assert_eq!(first["type"], "transcript.text.delta");
    drop(events);

    let closed = [("endpoint", "transcriptions"), ("reason", "client_closed")];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let counted = server
            .metric("whisper_transcription_errors_total", &closed)
            .await;
        let busy = server.metric("whisper_busy_slots", &[]).await;
        if counted == 1.0 && busy == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "30 s after the client left: client_closed {counted}, busy slots {busy}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.metric("whisper_inflight_requests", &[]).await, 0.0);
    let after = stream(&server, "speech.wav", &[]).await.all().await;
    let done = of_type(&after, "transcript.text.done");
    assert_eq!(
        normalise(done[0]["text"].as_str().unwrap_or_default()),
        normalise(EXPECTED)
    );
}
