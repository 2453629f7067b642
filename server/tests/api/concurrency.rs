//! More simultaneous requests than slots + queue: the excess gets 429 with Retry-After, every
//! accepted one succeeds with the right text.

use serde_json::Value;

use crate::fixtures::{self, EXPECTED, normalise};
use crate::server::start;

#[tokio::test]
async fn overload_gets_429_with_retry_after_and_accepted_requests_succeed() {
    let server = start(&["--slots", "1", "--queue", "1"]);
    let audio = fixtures::bytes("speech.wav");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(audio.clone()).file_name("speech.wav"),
        );
        let request = server
            .client
            .post(server.url("/v1/audio/transcriptions"))
            .multipart(form);
        tasks.spawn(async move {
            let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body: Value = response.json().await.unwrap_or_default();
            (status, retry_after, body)
        });
    }
    let results = tasks.join_all().await;
    let accepted: Vec<_> = results.iter().filter(|(s, _, _)| *s == 200).collect();
    let rejected: Vec<_> = results.iter().filter(|(s, _, _)| *s == 429).collect();
    assert_eq!(accepted.len() + rejected.len(), 6, "{results:?}");
    assert!(
        !rejected.is_empty(),
        "no request was turned away: {results:?}"
    );
    assert!(
        accepted.len() >= 2,
        "slot + queue should take two: {results:?}"
    );
    for (_, retry_after, body) in &rejected {
        assert!(
            retry_after.is_some_and(|s| s >= 1),
            "429 without Retry-After"
        );
        assert_eq!(body["error"]["code"], "queue_full");
    }
    for (_, _, body) in &accepted {
        assert_eq!(
            normalise(body["text"].as_str().unwrap_or_default()),
            normalise(EXPECTED)
        );
    }
    let queue_full = server
        .metric(
            "whisper_transcription_errors_total",
            &[("reason", "queue_full")],
        )
        .await;
    assert_eq!(queue_full, rejected.len() as f64);
}
