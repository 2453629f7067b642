//! After good and bad requests, /metrics (parsed, not grepped) holds every contract metric with
//! values that match what was sent.

use prometheus_parse::Value;

use crate::fixtures;
use crate::server::start;

const BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[tokio::test]
async fn metrics_count_good_and_bad_requests_exactly() {
    // A server of its own, so no other test's requests are counted.
    let server = start(&["--slots", "1", "--queue", "4", "--api-key", "k"]);
    let post = |path: &'static str, fixture: &'static str, key: &'static str| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(fixtures::bytes(fixture)).file_name(fixture),
        );
        server
            .client
            .post(server.url(path))
            .bearer_auth(key)
            .multipart(form)
            .send()
    };
    let status = |r: Result<reqwest::Response, reqwest::Error>| r.map(|r| r.status().as_u16()).ok();
    assert_eq!(
        status(post("/v1/audio/transcriptions", "speech.wav", "k").await),
        Some(200)
    );
    assert_eq!(
        status(post("/v1/audio/transcriptions", "speech.flac", "k").await),
        Some(200)
    );
    assert_eq!(
        status(post("/v1/audio/translations", "speech.wav", "k").await),
        Some(200)
    );
    assert_eq!(
        status(post("/v1/audio/transcriptions", "speech.opus", "k").await),
        Some(415)
    );
    assert_eq!(
        status(post("/v1/audio/translations", "speech.wav", "bad").await),
        Some(401)
    );

    let m = |name: &'static str, labels: &'static [(&'static str, &'static str)]| {
        server.metric(name, labels)
    };
    let t = &[("endpoint", "transcriptions")];
    let tr = &[("endpoint", "translations")];
    assert_eq!(m("whisper_transcription_requests_total", t).await, 3.0);
    assert_eq!(m("whisper_transcription_requests_total", tr).await, 2.0);
    assert_eq!(
        m(
            "whisper_transcription_errors_total",
            &[
                ("endpoint", "transcriptions"),
                ("reason", "unsupported_format")
            ]
        )
        .await,
        1.0
    );
    assert_eq!(
        m(
            "whisper_transcription_errors_total",
            &[("endpoint", "translations"), ("reason", "unauthorized")]
        )
        .await,
        1.0
    );
    assert_eq!(m("whisper_transcription_errors_total", &[]).await, 2.0);
    // Whole-request histogram: every request to an endpoint, the refused one included.
    assert_eq!(m("whisper_transcription_duration_seconds", t).await, 3.0);
    assert_eq!(m("whisper_transcription_duration_seconds", tr).await, 2.0);
    // Stage histograms: audio load also for the undecodable file; later stages only for good ones.
    assert_eq!(m("whisper_audio_load_duration_seconds", &[]).await, 4.0);
    assert_eq!(m("whisper_processing_duration_seconds", &[]).await, 3.0);
    assert_eq!(m("whisper_inference_duration_seconds", &[]).await, 3.0);
    assert_eq!(m("whisper_decode_duration_seconds", &[]).await, 3.0);
    assert_eq!(m("whisper_model_loaded", &[]).await, 1.0);
    assert_eq!(m("whisper_slots", &[]).await, 1.0);
    assert_eq!(m("whisper_queue_depth", &[]).await, 0.0);
    assert_eq!(m("whisper_inflight_requests", &[]).await, 0.0);
    assert_eq!(m("whisper_busy_slots", &[]).await, 0.0);
    // The test servers run one thread; none is held once the requests are answered.
    assert_eq!(m("whisper_inference_thread_budget", &[]).await, 1.0);
    assert_eq!(m("whisper_inference_threads", &[]).await, 0.0);
    // Short clips are one window: nothing decodes in parallel windows.
    assert_eq!(m("whisper_parallel_windows_total", &[]).await, 0.0);
    let elsewhere = m("whisper_cpu_busy_elsewhere_cores", &[]).await;
    let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    assert!(
        (0.0..=cpus.max(64.0)).contains(&elsewhere),
        "cores busy elsewhere out of range: {elsewhere}"
    );
    let audio = m("whisper_audio_seconds_total", t).await;
    assert!(
        (6.0..12.0).contains(&audio),
        "two clips of about 3.8 s, got {audio}"
    );
    assert!(m("whisper_audio_seconds_total", tr).await > 3.0);
    let load = m("whisper_model_load_duration_seconds", &[]).await;
    assert!(load > 0.0 && load < 60.0, "model load took {load}");
    assert_eq!(m("whisper_build_info", &[("backend", "cpu")]).await, 1.0);

    // Histogram buckets are the contract's, ending in +Inf.
    let samples = server.metrics().await;
    for name in [
        "whisper_transcription_duration_seconds",
        "whisper_audio_load_duration_seconds",
        "whisper_processing_duration_seconds",
        "whisper_inference_duration_seconds",
        "whisper_decode_duration_seconds",
    ] {
        let sample = samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let Value::Histogram(buckets) = &sample.value else {
            panic!("{name} is not a histogram");
        };
        let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
        assert_eq!(&bounds[..BUCKETS.len()], &BUCKETS, "{name}");
        assert!(bounds.last().is_some_and(|b| b.is_infinite()), "{name}");
    }
    // Labels stay bounded: no label value carries a path or a file name.
    for sample in &samples {
        for (key, value) in sample.labels.iter() {
            assert!(
                !value.contains('/') && !value.contains(".wav") && !value.contains(".bin"),
                "{}{{{key}={value}}}",
                sample.metric
            );
        }
    }
}
