//! Arbitrary bytes as an uploaded audio file: container probe, codec decode, downmix and
//! resample, through `audio::load` as the transcription route calls it.
#![no_main]

use std::sync::{LazyLock, Once};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use whisper_server::audio::{self, AudioMetrics, Upload};

/// Short, so that no single input decodes for long (the route's limit is an hour).
const MAX_SECONDS: f64 = 5.0;

static METRICS: LazyLock<AudioMetrics> =
    LazyLock::new(|| AudioMetrics::register(&prometheus::Registry::new()).expect("fresh registry"));

/// `audio::decode` turns a panic inside symphonia into an error (`catch_unwind`). libfuzzer-sys's
/// panic hook aborts on every panic, caught or not, so the default hook is put back: a caught
/// panic is printed and fuzzing goes on; an uncaught one still aborts (libfuzzer-sys's wrapper).
static DEFAULT_PANIC_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    DEFAULT_PANIC_HOOK.call_once(|| drop(std::panic::take_hook()));
    let upload = Upload {
        bytes: data.to_vec(),
        read_time: Duration::ZERO,
        max_seconds: MAX_SECONDS,
    };
    // Any error is a fine answer; only a panic, hang or runaway allocation is a finding.
    let _ = audio::load(upload, &METRICS);
});
