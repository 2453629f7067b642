//! The encoder's audio context fitted to a short clip, with a guard that throws the result
//! away when it looks wrong.
//!
//! whisper's encoder always reads 30 s (1500 frames), so a 4 s clip pays for 26 s of padding.
//! Cutting the context to the clip plus a margin makes the encoder several times cheaper, but
//! the model was trained on full windows: on the real-speech corpus most clips decode as before
//! and a few collapse into runaway repeats ("Go forward 10 meters." forty times), garbage bytes
//! or a sentence said twice (docs/benchmarks.md). Those failures are loud, so a fitted decode is
//! kept only when nothing in it looks like one; otherwise the clip is decoded again with the
//! full context, as whisper.cpp does by default.

use prometheus::IntCounterVec;

use super::error::EngineError;
use super::transcript::Transcript;

/// One encoder frame per 20 ms of 16 kHz audio.
const SAMPLES_PER_FRAME: usize = 320;
/// The full context: 30 s.
pub const FULL_AUDIO_CTX: usize = 1500;
/// Frames of context beyond the clip's end (2.56 s): the margin with the fewest failures on
/// the corpus among 64, 128 and 256.
pub const MARGIN_FRAMES: usize = 128;
/// Fitted contexts are a multiple of this many frames. The encoder's attention scores are a
/// context x context product per head; whisper.cpp's fast matrix kernels (llamafile's
/// tinyBLAS) take it only when the context is a multiple of 4, with their widest tiles at
/// multiples of 16, and otherwise ggml runs it as one 64-long dot product per score. On the
/// 10.8 s clip 670 frames spent 27% of the CPU time in that dot product, 672 frames 4%.
const CTX_ALIGN: usize = 16;
/// A fitted context must save at least this share of the encoder to be worth a possible retry
/// (it admits the 20 s windows of a 2-minute recording on two states).
const MIN_SAVING: f64 = 0.2;

/// Speech rarely passes 4 words a second; a fitted decode past this is repeating itself.
const MAX_WORDS_PER_SECOND: f64 = 6.0;
/// whisper.cpp's own threshold for a failed decode (mean token log-probability).
const MIN_AVG_LOGPROB: f64 = -1.0;
/// A word run or a three-word phrase seen this often is a loop, not speech.
const MAX_REPEATS: usize = 3;

/// Encoder frames that cover `samples` of 16 kHz audio.
pub fn clip_frames(samples: usize) -> usize {
    samples.div_ceil(SAMPLES_PER_FRAME)
}

/// The audio context for a clip of `samples`: the clip, the margin, rounded up to the kernels'
/// alignment; `None` when fitting would not pay.
pub fn audio_ctx(samples: usize) -> Option<usize> {
    let frames = (clip_frames(samples) + MARGIN_FRAMES).next_multiple_of(CTX_ALIGN);
    (frames <= max_ctx_frames()).then_some(frames)
}

/// The largest context worth fitting: one that saves `MIN_SAVING` of the full one.
fn max_ctx_frames() -> usize {
    (FULL_AUDIO_CTX as f64 * (1.0 - MIN_SAVING)) as usize
}

/// The longest clip `audio_ctx` fits (21.44 s): windows of long audio are planned within it.
pub fn max_clip_samples() -> usize {
    (max_ctx_frames() / CTX_ALIGN * CTX_ALIGN - MARGIN_FRAMES) * SAMPLES_PER_FRAME
}

/// Why a fitted decode was not kept: the `reason` label of the fallback counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suspicion {
    Empty,
    InvalidText,
    LowConfidence,
    TooManyWords,
    RepeatedSentence,
    RepeatedWords,
}

impl Suspicion {
    pub fn label(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::InvalidText => "invalid_text",
            Self::LowConfidence => "low_confidence",
            Self::TooManyWords => "too_many_words",
            Self::RepeatedSentence => "repeated_sentence",
            Self::RepeatedWords => "repeated_words",
        }
    }

    pub const ALL: [Self; 6] = [
        Self::Empty,
        Self::InvalidText,
        Self::LowConfidence,
        Self::TooManyWords,
        Self::RepeatedSentence,
        Self::RepeatedWords,
    ];
}

/// What, if anything, makes a transcript of a fitted decode look like one of its failures.
pub fn suspicion(transcript: &Transcript) -> Option<Suspicion> {
    let text = transcript.text();
    let words = words(&text);
    if words.is_empty() {
        return Some(Suspicion::Empty);
    }
    if text.contains('\u{FFFD}') {
        return Some(Suspicion::InvalidText);
    }
    if transcript
        .segments
        .iter()
        .any(|s| !s.tokens.is_empty() && s.avg_logprob < MIN_AVG_LOGPROB)
    {
        return Some(Suspicion::LowConfidence);
    }
    if words.len() as f64 > MAX_WORDS_PER_SECOND * transcript.duration.max(1.0) {
        return Some(Suspicion::TooManyWords);
    }
    if has_repeated_sentence(&text) {
        return Some(Suspicion::RepeatedSentence);
    }
    if has_repeated_words(&words) {
        return Some(Suspicion::RepeatedWords);
    }
    None
}

/// Lowercase alphanumeric words.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The same phrase twice as a sentence: the tail decoded again after a seek back into the
/// clip. A single word said twice ("Five. Five.") is ordinary speech, so only sentences of at
/// least two spoken words count (a digit string is one word per digit: "29340." is five).
fn has_repeated_sentence(text: &str) -> bool {
    let sentences: Vec<Vec<String>> = text
        .split(['.', '!', '?'])
        .map(words)
        .filter(|s| spoken_words(s) >= 2)
        .collect();
    sentences
        .iter()
        .enumerate()
        .any(|(i, s)| sentences[i + 1..].contains(s))
}

/// Words as spoken: a number written in digits is said digit by digit (or longer).
fn spoken_words(words: &[String]) -> usize {
    words
        .iter()
        .map(|w| {
            if w.chars().all(|c| c.is_ascii_digit()) {
                w.len()
            } else {
                1
            }
        })
        .sum()
}

/// A word `MAX_REPEATS` + 1 times in a row, or a three-word phrase `MAX_REPEATS` times.
fn has_repeated_words(words: &[String]) -> bool {
    let run = words
        .windows(MAX_REPEATS + 1)
        .any(|w| w.iter().all(|x| *x == w[0]));
    let phrases: Vec<&[String]> = words.windows(3).collect();
    run || phrases
        .iter()
        .any(|p| phrases.iter().filter(|q| *q == p).count() >= MAX_REPEATS)
}

/// A clip of `samples` decoded by `decode` (given the audio context, `None` for the full one):
/// first with a fitted context when `outcomes` is given (the lever is on) and the clip is short
/// enough, counting each outcome there; that result is kept unless it looks like one of the
/// lever's failures. Otherwise, and for longer audio, the full context, as whisper.cpp does.
pub fn with_fallback(
    samples: usize,
    outcomes: Option<&IntCounterVec>,
    mut decode: impl FnMut(Option<usize>) -> Result<Transcript, EngineError>,
) -> Result<Transcript, EngineError> {
    if let Some((outcomes, frames)) = outcomes.zip(audio_ctx(samples)) {
        let attempt = decode(Some(frames))?;
        match suspicion(&attempt) {
            None => {
                outcomes.with_label_values(&["kept"]).inc();
                return Ok(attempt);
            }
            Some(reason) => {
                outcomes.with_label_values(&[reason.label()]).inc();
                tracing::debug!(reason = reason.label(), text = %attempt.text(), "fitted audio context discarded");
            }
        }
    }
    decode(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::transcript::Segment;

    fn transcript(text: &str, seconds: f64, avg_logprob: f64) -> Transcript {
        Transcript {
            language: "english".into(),
            duration: seconds,
            segments: vec![Segment {
                id: 0,
                start: 0.0,
                end: seconds,
                text: format!(" {text}"),
                tokens: vec![1],
                avg_logprob,
                no_speech_prob: 0.0,
                logprobs: vec![],
            }],
            words: vec![],
        }
    }

    fn check(text: &str, seconds: f64) -> Option<Suspicion> {
        suspicion(&transcript(text, seconds, -0.2))
    }

    #[test]
    fn fits_short_clips_only() {
        // The clip's frames plus the margin, rounded up to a multiple of 16.
        assert_eq!(audio_ctx(16_000), Some(192));
        assert_eq!(audio_ctx(10 * 16_000), Some(640));
        assert_eq!(audio_ctx(10 * 16_000 + 1), Some(640));
        assert_eq!(audio_ctx(20 * 16_000), Some(1136));
        // 22 s + margin is more than four fifths of the window: not worth it.
        assert_eq!(audio_ctx(22 * 16_000), None);
        assert_eq!(audio_ctx(60 * 16_000), None);
    }

    #[test]
    fn the_longest_fitted_clip_is_the_edge_of_audio_ctx() {
        assert_eq!(max_clip_samples(), 343_040);
        assert_eq!(audio_ctx(max_clip_samples()), Some(1200));
        assert_eq!(audio_ctx(max_clip_samples() + 1), None);
    }

    #[test]
    fn keeps_ordinary_speech() {
        for (text, seconds) in [
            (
                "And Mr. John Dashwood had then leisure to consider how much.",
                6.0,
            ),
            ("29340.", 3.0),
            (
                "Welcome to the directory. Please enter the first three letters.",
                5.0,
            ),
            ("Go forward ten meters.", 2.0),
            ("one two three four five six seven", 3.0),
            // cards-004 of the corpus: the speaker says "five" twice.
            ("Five. Five.", 1.5),
            ("No. No. Not that one.", 2.0),
        ] {
            assert_eq!(check(text, seconds), None, "{text:?}");
        }
    }

    #[test]
    fn catches_the_failures_seen_on_the_corpus() {
        // Real outputs of a fitted context on the real-speech corpus (docs/benchmarks.md).
        assert_eq!(
            check("29340. 29340.", 3.0),
            Some(Suspicion::RepeatedSentence)
        );
        assert_eq!(
            check(
                "The leader has left the conference. The leader has left the conference.",
                2.5
            ),
            Some(Suspicion::RepeatedSentence)
        );
        assert_eq!(
            check(&"Go forward 10 meters. ".repeat(40), 2.0),
            Some(Suspicion::TooManyWords)
        );
        assert_eq!(
            check(
                "go forward ten meters. Go over ten meters, go forward ten meters and go forward ten",
                8.0
            ),
            Some(Suspicion::RepeatedWords)
        );
        assert_eq!(check("5 5 5 5 5", 2.0), Some(Suspicion::RepeatedWords));
        assert_eq!(
            check("\u{FFFD} \" 165...", 2.0),
            Some(Suspicion::InvalidText)
        );
        assert_eq!(check(" ... ", 2.0), Some(Suspicion::Empty));
        assert_eq!(
            suspicion(&transcript(
                "The Speed Dialantry Uvaxest is empty.",
                3.0,
                -1.4
            )),
            Some(Suspicion::LowConfidence)
        );
    }

    fn outcomes() -> IntCounterVec {
        IntCounterVec::new(prometheus::Opts::new("outcomes", "test"), &["outcome"])
            .expect("valid counter")
    }

    /// Decodes with `with_fallback`, answering `fitted_text` for a fitted context and "Full."
    /// for the full one; returns the text kept and the contexts asked for.
    fn fall_back(
        samples: usize,
        outcomes: Option<&IntCounterVec>,
        fitted_text: &str,
    ) -> (String, Vec<Option<usize>>) {
        let mut asked = Vec::new();
        let kept = with_fallback(samples, outcomes, |ctx| {
            asked.push(ctx);
            let text = if ctx.is_some() { fitted_text } else { "Full." };
            Ok(transcript(text, 3.0, -0.2))
        })
        .expect("decodes");
        (kept.text(), asked)
    }

    #[test]
    fn a_plausible_fitted_decode_is_kept_and_counted() {
        let counted = outcomes();
        let (text, asked) = fall_back(3 * 16_000, Some(&counted), "Go forward ten meters.");
        assert_eq!(text.trim(), "Go forward ten meters.");
        assert_eq!(asked, [audio_ctx(3 * 16_000)]);
        assert_eq!(counted.with_label_values(&["kept"]).get(), 1);
    }

    #[test]
    fn a_suspicious_fitted_decode_falls_back_to_the_full_context() {
        let counted = outcomes();
        let (text, asked) = fall_back(3 * 16_000, Some(&counted), "29340. 29340.");
        assert_eq!(text.trim(), "Full.");
        assert_eq!(asked, [audio_ctx(3 * 16_000), None]);
        assert_eq!(counted.with_label_values(&["repeated_sentence"]).get(), 1);
        assert_eq!(counted.with_label_values(&["kept"]).get(), 0);
    }

    #[test]
    fn long_clips_and_the_lever_off_decode_the_full_context_only() {
        let counted = outcomes();
        assert_eq!(fall_back(60 * 16_000, Some(&counted), "x").1, [None]);
        assert_eq!(fall_back(3 * 16_000, None, "x").1, [None]);
        assert_eq!(counted.with_label_values(&["kept"]).get(), 0);
    }
}
