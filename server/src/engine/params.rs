//! Every whisper.cpp decoding parameter the server sets, in one place.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use whisper_rs::{FullParams, SamplingStrategy};

/// What one request asks of the model.
#[derive(Debug, Clone, Default)]
pub struct TranscribeOptions {
    /// whisper.cpp language code ("en"); `None` lets the model detect it.
    pub language: Option<&'static str>,
    /// Prompt tokens (already tokenized and trimmed to the model's limit).
    pub prompt_tokens: Vec<i32>,
    pub temperature: f32,
    pub translate: bool,
    pub word_timestamps: bool,
    /// Beam search with this many beams; 0 or 1 decodes greedily.
    pub beam_size: usize,
    /// Decode only the speech voice activity detection finds with these settings
    /// (`chunking_strategy`); `None` decodes the whole recording.
    pub vad: Option<super::vad::VadSettings>,
}

/// The language to decode in when a request names none: an English-only model has nothing to
/// detect, and leaving it unset would make whisper.cpp run its language detection (a second
/// encoder pass) anyway. A multilingual model detects the spoken language.
pub fn default_language(multilingual: bool) -> Option<&'static str> {
    (!multilingual).then_some("en")
}

/// whisper.cpp's default temperature fallback: a decode that fails is retried this much hotter,
/// up to 1.0.
const FALLBACK_STEP: f32 = 0.2;

/// whisper.cpp calls this between graph computations; returning true stops inference.
unsafe extern "C" fn abort_requested(flag: *mut c_void) -> bool {
    // SAFETY: `flag` is the `&AtomicBool` given in `full_params`, which outlives the full() call.
    unsafe { (*(flag as *const AtomicBool)).load(Ordering::Relaxed) }
}

/// Builds the parameters of one full() call, with the temperature fallback on or off
/// (`fallback`). `abort` must outlive that call.
pub fn full_params<'a>(
    options: &'a TranscribeOptions,
    threads: usize,
    abort: &'a AtomicBool,
    fallback: bool,
) -> FullParams<'a, 'a> {
    let strategy = if options.beam_size > 1 {
        SamplingStrategy::BeamSearch {
            beam_size: i32::try_from(options.beam_size).unwrap_or(1),
            // whisper.cpp does not implement patience; -1 is its default.
            patience: -1.0,
        }
    } else {
        SamplingStrategy::Greedy { best_of: 1 }
    };
    let mut params = FullParams::new(strategy);
    params.set_n_threads(i32::try_from(threads).unwrap_or(1).max(1));
    // States are reused across requests: never carry text from one request into the next.
    params.set_no_context(true);
    params.set_translate(options.translate);
    params.set_language(options.language);
    if !options.prompt_tokens.is_empty() {
        params.set_tokens(&options.prompt_tokens);
    }
    params.set_temperature(options.temperature);
    params.set_temperature_inc(if fallback { FALLBACK_STEP } else { 0.0 });
    params.set_token_timestamps(options.word_timestamps);
    params.set_print_special(false);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_timestamps(false);
    // SAFETY: the callback only reads the AtomicBool behind the pointer, which lives for 'a.
    unsafe {
        params.set_abort_callback(Some(abort_requested));
        params.set_abort_callback_user_data(abort as *const AtomicBool as *mut c_void);
    }
    params
}
