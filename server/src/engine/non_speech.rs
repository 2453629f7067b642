//! The markers whisper writes where it hears no words: `[BLANK_AUDIO]` over silence and noise,
//! `(music)`, `[Music]`, `(upbeat music)` or `♪` over music, `(laughs)` and the like. They are
//! captions, not a transcript: a client asked for the words spoken, and over silence that is
//! nothing. Whisper writes every such marker in brackets or parentheses, or as a music sign.

use std::ops::Range;

use super::transcript::{Segment, TokenLogprob, Transcript, Word};

/// Signs whisper writes for music, alone or around a line.
const MUSIC_SIGNS: [char; 4] = ['♪', '♫', '♬', '♩'];

/// The byte ranges of `text` that are markers: each `[...]` or `(...)` closed within `text`, and
/// each music sign. An opening bracket that is never closed is left alone.
fn marker_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        let close = match c {
            '[' => Some(']'),
            '(' => Some(')'),
            _ => None,
        };
        // Both brackets are one byte, so `at + 1` is the next character.
        if let Some(end) = close.and_then(|close| text[at + 1..].find(close)) {
            let end = at + 1 + end + 1;
            spans.push(at..end);
            at = end;
        } else {
            if MUSIC_SIGNS.contains(&c) {
                spans.push(at..at + c.len_utf8());
            }
            at += c.len_utf8();
        }
    }
    spans
}

/// `text` with its markers taken out, the spaces around them closed up. A leading space (whisper
/// starts each segment with one) is kept.
pub fn strip_markers(text: &str) -> String {
    let spans = marker_spans(text);
    if spans.is_empty() {
        return text.to_string();
    }
    let mut kept = String::with_capacity(text.len());
    let mut from = 0;
    for span in spans {
        kept.push_str(&text[from..span.start]);
        kept.push(' ');
        from = span.end;
    }
    kept.push_str(&text[from..]);
    let closed_up = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.starts_with(' ') && !closed_up.is_empty() {
        format!(" {closed_up}")
    } else {
        closed_up
    }
}

/// Whether any word is left: letters or digits, not only punctuation.
fn has_words(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

impl Transcript {
    /// The transcript without non-speech markers: segments that held nothing else are gone
    /// (the rest renumbered), and so are the words inside markers.
    pub fn without_non_speech(self) -> Transcript {
        let segments = self
            .segments
            .into_iter()
            .filter_map(|segment| {
                let text = strip_markers(&segment.text);
                if text == segment.text {
                    // No marker: nothing to take out of the tokens either.
                    return has_words(&text).then_some(segment);
                }
                has_words(&text).then(|| Segment {
                    text,
                    logprobs: tokens_outside_markers(segment.logprobs),
                    ..segment
                })
            })
            .enumerate()
            .map(|(id, segment)| Segment { id, ..segment })
            .collect();
        Transcript {
            segments,
            words: words_outside_markers(self.words),
            ..self
        }
    }
}

/// The words with markers taken out. A marker may span words ("(upbeat music)" is two), so the
/// markers are found in the words' joined text.
fn words_outside_markers(words: Vec<Word>) -> Vec<Word> {
    outside_markers(words, " ", |word| word.word.clone())
        .filter_map(|(word, kept)| has_words(&kept).then_some(Word { word: kept, ..word }))
        .collect()
}

/// The tokens that are not part of a marker (their bytes as decoded: a token may hold part of
/// a character).
fn tokens_outside_markers(tokens: Vec<TokenLogprob>) -> Vec<TokenLogprob> {
    outside_markers(tokens, "", |token| {
        String::from_utf8_lossy(&token.bytes).into_owned()
    })
    .filter_map(|(token, kept)| (!kept.trim().is_empty()).then_some(token))
    .collect()
}

/// Each item with its text less the characters inside markers, the markers found in the items'
/// texts joined by `separator`.
fn outside_markers<T>(
    items: Vec<T>,
    separator: &str,
    text_of: impl Fn(&T) -> String,
) -> impl Iterator<Item = (T, String)> {
    let mut joined = String::new();
    let mut ranges = Vec::with_capacity(items.len());
    for item in &items {
        if !ranges.is_empty() {
            joined.push_str(separator);
        }
        let start = joined.len();
        joined.push_str(&text_of(item));
        ranges.push(start..joined.len());
    }
    let spans = marker_spans(&joined);
    items.into_iter().zip(ranges).map(move |(item, range)| {
        let kept: String = joined[range.clone()]
            .char_indices()
            .filter(|(i, _)| !spans.iter().any(|s| s.contains(&(range.start + i))))
            .map(|(_, c)| c)
            .collect();
        (item, kept)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_alone_leave_nothing() {
        for marker in [
            " [BLANK_AUDIO]",
            " [BLANK_AUDIO] [BLANK_AUDIO]",
            " (music)",
            " [Music]",
            " (upbeat music)",
            " ♪",
            " ♪ ♪",
            " [ Silence ]",
            " (laughs) [applause]",
        ] {
            let stripped = strip_markers(marker);
            assert!(!has_words(&stripped), "{marker:?} -> {stripped:?}");
        }
    }

    #[test]
    fn words_around_markers_stay() {
        assert_eq!(
            strip_markers(" Hello [BLANK_AUDIO] world."),
            " Hello world."
        );
        assert_eq!(strip_markers(" ♪ la la la ♪"), " la la la");
        assert_eq!(
            strip_markers(" The fox (quietly) jumps."),
            " The fox jumps."
        );
    }

    #[test]
    fn text_without_markers_is_untouched() {
        for text in [
            " Hello world, the quick brown fox.",
            " It costs 5 dollars :)",
            " An aside (never closed",
            "",
        ] {
            assert_eq!(strip_markers(text), text);
        }
    }

    fn segment(id: usize, start: f64, text: &str) -> Segment {
        Segment {
            id,
            start,
            end: start + 1.0,
            text: text.into(),
            tokens: vec![1],
            avg_logprob: -0.2,
            no_speech_prob: 0.1,
            logprobs: vec![],
        }
    }

    fn word(text: &str, start: f64) -> Word {
        Word {
            word: text.into(),
            start,
            end: start + 0.5,
        }
    }

    #[test]
    fn marker_segments_and_words_are_dropped_and_ids_run_on() {
        let transcript = Transcript {
            language: "english".into(),
            duration: 4.0,
            segments: vec![
                segment(0, 0.0, " [BLANK_AUDIO]"),
                segment(1, 1.0, " Hello world."),
                segment(2, 2.0, " (upbeat music)"),
                segment(3, 3.0, " Goodbye."),
            ],
            words: vec![
                word("[BLANK_AUDIO]", 0.0),
                word("Hello", 1.0),
                word("world.", 1.5),
                word("(upbeat", 2.0),
                word("music)", 2.5),
                word("Goodbye.", 3.0),
            ],
        }
        .without_non_speech();
        let texts: Vec<(usize, &str)> = transcript
            .segments
            .iter()
            .map(|s| (s.id, s.text.as_str()))
            .collect();
        assert_eq!(texts, [(0, " Hello world."), (1, " Goodbye.")]);
        let words: Vec<&str> = transcript.words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(words, ["Hello", "world.", "Goodbye."]);
        assert_eq!(transcript.text(), "Hello world. Goodbye.");
    }

    #[test]
    fn marker_tokens_leave_the_logprobs_and_punctuation_stays() {
        let token = |text: &str| TokenLogprob {
            bytes: text.as_bytes().to_vec(),
            logprob: -0.5,
        };
        let kept = tokens_outside_markers(
            [
                " Hello", " [", "BL", "ANK", "_", "AUDIO", "]", " world", ".",
            ]
            .map(token)
            .to_vec(),
        );
        let texts: Vec<String> = kept
            .iter()
            .map(|t| String::from_utf8_lossy(&t.bytes).into_owned())
            .collect();
        assert_eq!(texts, [" Hello", " world", "."]);
    }

    #[test]
    fn a_transcript_of_markers_only_is_empty() {
        let transcript = Transcript {
            language: "english".into(),
            duration: 8.0,
            segments: vec![segment(0, 0.0, " [BLANK_AUDIO]")],
            words: vec![word("[BLANK_AUDIO]", 0.0)],
        }
        .without_non_speech();
        assert!(transcript.segments.is_empty());
        assert!(transcript.words.is_empty());
        assert_eq!(transcript.text(), "");
    }
}
