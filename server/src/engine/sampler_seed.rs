//! Every decode that may draw random numbers starts from whisper.cpp's seed.
//!
//! whisper.cpp 1.8.3 (what whisper-rs-sys 0.15 builds) seeds the random generator of a state's
//! first decoder once, when the state is made, and never again: each `whisper_full` call
//! reseeds only the others (fixed upstream in ggml-org/whisper.cpp#4025, after that release).
//! That generator draws every token decoded above temperature 0 (the request's own
//! temperature, or the retries of the temperature fallback when a window fails at 0) and every
//! candidate of a beam search, even at 0. On a reused state such a decode depended on how much
//! that state had drawn before: on which slot the request or window landed and what that slot
//! had decoded earlier, so the same audio gave different transcripts (docs/determinism.md).
//! A decode that may draw therefore runs on a state made just before it
//! (`Worker::state`).

use super::params::TranscribeOptions;

/// Whether a decode of `options` may draw from the generator: above temperature 0, with the
/// temperature fallback on (`fallback`), or in beam search.
pub fn may_draw(options: &TranscribeOptions, fallback: bool) -> bool {
    options.temperature > 0.0 || fallback || options.beam_size > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_greedy_decodes_at_zero_without_fallback_never_draw() {
        let greedy = TranscribeOptions::default();
        assert!(!may_draw(&greedy, false));
        assert!(may_draw(&greedy, true), "the fallback's retries sample");
        let warm = TranscribeOptions {
            temperature: 0.4,
            ..TranscribeOptions::default()
        };
        assert!(may_draw(&warm, false));
        let beams = TranscribeOptions {
            beam_size: 5,
            ..TranscribeOptions::default()
        };
        assert!(
            may_draw(&beams, false),
            "whisper.cpp samples beam candidates"
        );
    }
}
