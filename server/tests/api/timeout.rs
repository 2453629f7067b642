//! A request past its time limit is stopped with 504, counted as `timeout`, and frees its slot.

use serde_json::Value;

use crate::fixtures;
use crate::server::start;

#[tokio::test]
async fn inference_past_the_time_limit_is_504_and_frees_the_slot() {
    // A limit no inference can meet: the abort lands after the first encoder pass.
    let server = start(&[
        "--timeout-base-seconds",
        "0.001",
        "--timeout-per-audio-second",
        "0",
    ]);
    let response = server
        .post_audio(
            "/v1/audio/transcriptions",
            fixtures::bytes("speech.wav"),
            "speech.wav",
            &[],
        )
        .await;
    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(body["error"]["code"], "timeout");
    let labels = [("endpoint", "transcriptions"), ("reason", "timeout")];
    assert_eq!(
        server
            .metric("whisper_transcription_errors_total", &labels)
            .await,
        1.0
    );
    // The handler waited for whisper.cpp to stop, so the slot is already free.
    assert_eq!(server.metric("whisper_inflight_requests", &[]).await, 0.0);
}
