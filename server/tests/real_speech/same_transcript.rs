//! The same recording with the same settings gets the same answer, byte for byte, whatever the
//! server decoded before, whatever runs beside it and however many workers and threads the
//! request gets (issue #20). Beam search draws its candidates from whisper.cpp's random
//! generator even at temperature 0, as the temperature fallback's retries do: on a reused
//! whisper state such a decode depended on what that state had drawn before
//! (`engine::sampler_seed`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::corpus;
use super::server::{self, Server};

/// Two minutes of real speech, as in the issue: fourteen windows on two states.
const SECONDS: f64 = 120.0;

const GREEDY: [(&str, &str); 1] = [("response_format", "verbose_json")];
const BEAMS: [(&str, &str); 2] = [("response_format", "verbose_json"), ("beam_size", "5")];

/// A CPU-bound process (`yes`) beside the server until dropped: the server gives requests
/// fewer threads while it runs.
struct CpuHog(Child);

impl CpuHog {
    fn start() -> Self {
        let child = Command::new("yes")
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start yes: {e}"));
        // Long enough for the server's load estimate to see it.
        std::thread::sleep(Duration::from_millis(500));
        Self(child)
    }
}

impl Drop for CpuHog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `series` reads `value` in /metrics.
async fn wait_for_metric(server: &Server, client: &reqwest::Client, series: &str, value: f64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.metric(client, series).await != value {
        assert!(Instant::now() < deadline, "{series} never reached {value}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Fails unless every answer is `first`, naming the first segment that differs.
fn assert_all_same(what: &str, first: &serde_json::Value, others: &[(&str, &serde_json::Value)]) {
    for (when, other) in others {
        if first == *other {
            continue;
        }
        let segments = |body: &serde_json::Value| body["segments"].as_array().cloned();
        let differing = segments(first)
            .zip(segments(other))
            .and_then(|(a, b)| a.into_iter().zip(b).find(|(x, y)| x != y))
            .map(|(x, y)| format!("{} against {}", x["text"], y["text"]));
        panic!(
            "{what} {when} differs from its first answer\nfirst: {}\nthen:  {}\nfirst segment \
             that differs: {differing:?}",
            server::text(first),
            server::text(other)
        );
    }
}

#[tokio::test]
async fn a_recording_gets_the_same_answer_whatever_came_before_and_beside_it() {
    let recording = corpus::long_recording(SECONDS);
    let utterances = corpus::utterances();
    let clip = |i: usize| {
        std::fs::read(&utterances[i].wav)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", utterances[i].wav.display()))
    };
    let client = server::client();
    // Two threads whatever the machine, adapted to the load as shipped.
    let server = Server::start(&client, &["--threads", "2"]).await;
    let send = |fields: &'static [(&'static str, &'static str)]| {
        server.transcribe(&client, recording.wav.clone(), fields)
    };
    let short = |fields: &'static [(&'static str, &'static str)]| {
        server.transcribe(&client, clip(0), fields)
    };

    // A short clip alone on an idle server: one worker with both threads.
    let short_alone = short(&GREEDY).await;
    let greedy_first = send(&GREEDY).await;
    let beams_first = send(&BEAMS).await;
    // Other audio decoded by sampling and by beam search draws from the states' generators.
    server
        .transcribe(&client, clip(1), &[("temperature", "0.8")])
        .await;
    server
        .transcribe(&client, clip(2), &[("beam_size", "3")])
        .await;
    let (greedy_busy, beams_busy) = {
        let _hog = CpuHog::start();
        (send(&GREEDY).await, send(&BEAMS).await)
    };
    // The short clip beside the recording: one worker with one thread; the recording gives it
    // a state between two windows and takes it back.
    let (beams_beside, short_beside) = tokio::join!(send(&BEAMS), async {
        wait_for_metric(&server, &client, "whisper_busy_slots", 2.0).await;
        short(&GREEDY).await
    });

    assert_all_same(
        "the recording",
        &greedy_first,
        &[("after other requests, beside a CPU hog", &greedy_busy)],
    );
    assert_all_same(
        "the recording in beam search",
        &beams_first,
        &[
            ("after other requests, beside a CPU hog", &beams_busy),
            ("beside another request", &beams_beside),
        ],
    );
    assert_all_same(
        "a short clip",
        &short_alone,
        &[("beside the recording", &short_beside)],
    );
}
