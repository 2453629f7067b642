//! The result of one inference, read out of a whisper state into plain data.

use whisper_rs::WhisperState;

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: usize,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub tokens: Vec<i32>,
    pub avg_logprob: f64,
    pub no_speech_prob: f64,
    /// Each text token with its log probability, in order.
    pub logprobs: Vec<TokenLogprob>,
}

/// One text token as decoded, and the log probability the model gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    /// The token's bytes: a token may hold part of a UTF-8 character.
    pub bytes: Vec<u8>,
    pub logprob: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub word: String,
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// Full language name as OpenAI reports it ("english").
    pub language: String,
    pub duration: f64,
    pub segments: Vec<Segment>,
    pub words: Vec<Word>,
}

impl Transcript {
    /// The whole text, segments joined, without the leading space whisper puts on each.
    pub fn text(&self) -> String {
        let joined: String = self.segments.iter().map(|s| s.text.as_str()).collect();
        joined.trim().to_string()
    }

    /// Joins the transcripts of consecutive windows of one recording; each part comes with
    /// where its window starts (seconds). Times move onto the whole recording and segment ids
    /// run on. The language is the first window's.
    pub fn join(parts: Vec<(f64, Transcript)>, duration: f64) -> Transcript {
        let language = parts
            .first()
            .map_or_else(|| "english".to_string(), |(_, t)| t.language.clone());
        let mut segments = Vec::new();
        let mut words = Vec::new();
        for (offset, part) in parts {
            let shift = |t: f64| (t + offset).min(duration);
            for segment in part.segments {
                segments.push(Segment {
                    id: segments.len(),
                    start: shift(segment.start),
                    end: shift(segment.end),
                    ..segment
                });
            }
            words.extend(part.words.into_iter().map(|word| Word {
                start: shift(word.start),
                end: shift(word.end),
                ..word
            }));
        }
        Transcript {
            language,
            duration,
            segments,
            words,
        }
    }
}

/// One token as read from whisper.cpp, times in seconds.
#[derive(Debug, Clone)]
struct Token {
    bytes: Vec<u8>,
    start: f64,
    end: f64,
}

/// Reads segments (and words when `words` is set) out of a state after full().
/// Tokens with ids at or past `first_special` (end-of-text, timestamps…) are not text.
/// `language` is the code the request fixed, if any; otherwise the state's detected one is used.
pub fn read(
    state: &WhisperState,
    first_special: i32,
    duration: f64,
    language: Option<&str>,
    words: bool,
) -> Transcript {
    let mut segments = Vec::new();
    let mut all_words = Vec::new();
    for (id, segment) in state.as_iter().enumerate() {
        let start = centis(segment.start_timestamp()).min(duration);
        let end = centis(segment.end_timestamp()).clamp(start, duration);
        let mut tokens = Vec::new();
        let mut text_tokens = Vec::new();
        let mut logprobs = Vec::new();
        let mut logprob_sum = 0.0;
        for index in 0..segment.n_tokens() {
            let Some(token) = segment.get_token(index) else {
                continue;
            };
            let data = token.token_data();
            if data.id >= first_special {
                continue;
            }
            tokens.push(data.id);
            logprob_sum += f64::from(data.plog);
            let bytes = token.to_bytes().map(<[u8]>::to_vec).unwrap_or_default();
            if words {
                text_tokens.push(Token {
                    bytes: bytes.clone(),
                    start: centis(data.t0),
                    end: centis(data.t1),
                });
            }
            logprobs.push(TokenLogprob {
                bytes,
                logprob: f64::from(data.plog),
            });
        }
        let avg_logprob = if tokens.is_empty() {
            0.0
        } else {
            logprob_sum / tokens.len() as f64
        };
        all_words.extend(group_words(&text_tokens, start, end));
        segments.push(Segment {
            id,
            start,
            end,
            text: segment
                .to_str_lossy()
                .map(|t| t.into_owned())
                .unwrap_or_default(),
            tokens,
            avg_logprob,
            no_speech_prob: f64::from(segment.no_speech_probability()),
            logprobs,
        });
    }
    let language_id = language
        .and_then(whisper_rs::get_lang_id)
        .unwrap_or_else(|| state.full_lang_id_from_state());
    let language = whisper_rs::get_lang_str_full(language_id)
        .unwrap_or("english")
        .to_string();
    Transcript {
        language,
        duration,
        segments,
        words: all_words,
    }
}

fn centis(t: i64) -> f64 {
    t.max(0) as f64 / 100.0
}

/// Joins sub-word tokens into words (a token starting with a space starts a word) and makes
/// their times monotonic and inside the segment, since token timestamps are estimates.
fn group_words(tokens: &[Token], seg_start: f64, seg_end: f64) -> Vec<Word> {
    let mut grouped: Vec<Token> = Vec::new();
    for token in tokens {
        match grouped.last_mut() {
            Some(word) if !token.bytes.starts_with(b" ") => {
                word.bytes.extend_from_slice(&token.bytes);
                word.end = token.end;
            }
            _ => grouped.push(token.clone()),
        }
    }
    let mut cursor = seg_start;
    grouped
        .into_iter()
        .filter_map(|token| {
            let text = String::from_utf8_lossy(&token.bytes).trim().to_string();
            if text.is_empty() {
                return None;
            }
            let start = token.start.clamp(cursor, seg_end);
            let end = token.end.clamp(start, seg_end);
            cursor = end;
            Some(Word {
                word: text,
                start,
                end,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str, start: f64, end: f64) -> Token {
        Token {
            bytes: text.as_bytes().to_vec(),
            start,
            end,
        }
    }

    fn segment(id: usize, start: f64, end: f64, text: &str) -> Segment {
        Segment {
            id,
            start,
            end,
            text: text.into(),
            tokens: vec![1, 2],
            avg_logprob: -0.1,
            no_speech_prob: 0.0,
            logprobs: Vec::new(),
        }
    }

    #[test]
    fn join_shifts_times_and_renumbers_segments() {
        let window = |text: &str, end: f64| Transcript {
            language: "english".into(),
            duration: end,
            segments: vec![segment(0, 0.0, 1.0, text), segment(1, 1.0, end, " next")],
            words: vec![Word {
                word: text.trim().into(),
                start: 0.5,
                end: 1.0,
            }],
        };
        let joined = Transcript::join(
            vec![(0.0, window(" one", 2.0)), (2.0, window(" two", 3.0))],
            4.5,
        );
        let spans: Vec<_> = joined
            .segments
            .iter()
            .map(|s| (s.id, s.start, s.end))
            .collect();
        assert_eq!(
            spans,
            [(0, 0.0, 1.0), (1, 1.0, 2.0), (2, 2.0, 3.0), (3, 3.0, 4.5)]
        );
        assert_eq!(joined.text(), "one next two next");
        assert_eq!((joined.words[1].start, joined.words[1].end), (2.5, 3.0));
        assert_eq!(joined.duration, 4.5);
    }

    #[test]
    fn joins_subword_tokens_and_keeps_times_monotonic() {
        let words = group_words(
            &[
                token(" Hel", 0.0, 0.2),
                token("lo", 0.2, 0.4),
                token(" world", 0.3, 0.9),
                token(".", 0.9, 1.5),
            ],
            0.0,
            1.2,
        );
        let texts: Vec<_> = words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(texts, ["Hello", "world."]);
        assert_eq!((words[1].start, words[1].end), (0.4, 1.2));
    }
}
