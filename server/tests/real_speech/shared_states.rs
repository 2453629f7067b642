//! A long recording takes both states of an idle server. A short request that arrives while it
//! decodes gets one of them between two windows, instead of waiting for the whole recording,
//! and the long request takes it back once the short one is done. Neither transcript changes.

use std::time::{Duration, Instant};

use super::corpus;
use super::server::{self, Server};
use super::wer;

const JSON: [(&str, &str); 1] = [("response_format", "json")];

/// Waits until `series` reads `value` in /metrics.
async fn wait_for_metric(server: &Server, client: &reqwest::Client, series: &str, value: f64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.metric(client, series).await != value {
        assert!(Instant::now() < deadline, "{series} never reached {value}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_short_request_behind_a_long_one_waits_for_a_window_not_the_recording() {
    let long = corpus::long_recording(120.0);
    let short = corpus::utterances().swap_remove(0);
    let short_wav = std::fs::read(&short.wav)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", short.wav.display()));
    let client = server::client();
    let server = Server::start(
        &client,
        &["--threads", "2", "--adapt-threads-to-load", "false"],
    )
    .await;
    let long_alone = server::text(&server.transcribe(&client, long.wav.clone(), &JSON).await);
    let short_alone = server::text(&server.transcribe(&client, short_wav.clone(), &JSON).await);

    let long_request = async {
        let body = server.transcribe(&client, long.wav.clone(), &JSON).await;
        (server::text(&body), Instant::now())
    };
    let short_request = async {
        // Both slots taken: the long request decodes its windows on both states.
        wait_for_metric(&server, &client, "whisper_busy_slots", 2.0).await;
        let body = server.transcribe(&client, short_wav.clone(), &JSON).await;
        (server::text(&body), Instant::now())
    };
    let ((long_beside, long_done), (short_beside, short_done)) =
        tokio::join!(long_request, short_request);

    let released = server
        .metric(&client, "whisper_window_states_total{change=\"released\"}")
        .await;
    let recruited = server
        .metric(&client, "whisper_window_states_total{change=\"recruited\"}")
        .await;
    eprintln!(
        "released {released}, recruited {recruited}; the short request finished {:.2} s before \
         the long one",
        long_done
            .saturating_duration_since(short_done)
            .as_secs_f64()
    );
    assert!(
        short_done < long_done,
        "the short request waited for the whole long recording"
    );
    assert_eq!(released, 1.0, "the long request gives one state back");
    assert_eq!(recruited, 1.0, "and takes it back once it is free");
    assert_eq!(
        long_beside, long_alone,
        "sharing changed the long transcript"
    );
    assert_eq!(
        wer::normalise(&short_beside),
        wer::normalise(&short_alone),
        "one thread beside the long request changed the short transcript"
    );
}
