//! Arbitrary bytes as the body of a transcription request, through axum's real `Multipart`
//! extractor into `routes::form::read`. The first byte picks the boundary from a few, so that
//! the fuzzer can also try a boundary that the body does not use.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use libfuzzer_sys::fuzz_target;
use whisper_server::routes::form::{self, UploadPace};

const BOUNDARIES: [&str; 4] = [
    "fuzz",
    "X-BOUNDARY",
    "a",
    "----WebKitFormBoundary7MA4YWxkTrZu0gW",
];
/// Small, so that the size limit itself is exercised.
const MAX_UPLOAD_BYTES: usize = 16 * 1024;
const PACE: UploadPace = UploadPace {
    timeout: Duration::from_secs(5),
    min_bytes_per_second: 4096,
};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let boundary = BOUNDARIES[usize::from(pick) % BOUNDARIES.len()];
    let request = Request::builder()
        .method("POST")
        .uri("/v1/audio/transcriptions")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    RUNTIME.block_on(async {
        let multipart = Multipart::from_request(request, &()).await;
        // Any error is a fine answer; only a panic or a hang is a finding.
        let _ = form::read(multipart, MAX_UPLOAD_BYTES, PACE).await;
    });
});
