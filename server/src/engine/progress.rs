//! A streaming request's view of its transcription while it runs: word that the audio decoded
//! and inference began, then the transcript window by window, in the recording's order.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::sync::mpsc;

use super::transcript::Transcript;

#[derive(Debug)]
pub enum Progress {
    /// The audio decoded and the request holds a slot: what fails later is the inference.
    Started,
    /// The next part of the transcript: times on the whole recording, non-speech taken out.
    Decoded(Transcript),
}

/// Where a request's progress goes; `ProgressSink::none()` for one that waits for the whole.
#[derive(Debug, Clone, Default)]
pub struct ProgressSink(Option<mpsc::UnboundedSender<Progress>>);

impl ProgressSink {
    pub fn none() -> Self {
        Self(None)
    }

    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Progress>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self(Some(sender)), receiver)
    }

    /// Whether anyone listens: parts are only copied out for a listener.
    pub fn is_wanted(&self) -> bool {
        self.0.is_some()
    }

    pub(super) fn send(&self, progress: Progress) {
        if let Some(sender) = &self.0 {
            // A listener that went away has dropped the request too; nothing to tell.
            let _ = sender.send(progress);
        }
    }
}

/// Passes the windows' transcripts on in window order, whichever worker finishes first: a
/// window goes as soon as every window before it has.
pub(super) struct InOrder<'a> {
    sink: &'a ProgressSink,
    /// The next window to pass on, and the finished ones waiting for it.
    pending: Mutex<(usize, BTreeMap<usize, Transcript>)>,
}

impl<'a> InOrder<'a> {
    pub(super) fn new(sink: &'a ProgressSink) -> Self {
        Self {
            sink,
            pending: Mutex::new((0, BTreeMap::new())),
        }
    }

    pub(super) fn finished(&self, window: usize, part: Transcript) {
        // Sent under the lock, so two workers cannot pass their windows on out of order.
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (next, waiting) = &mut *pending;
        waiting.insert(window, part);
        while let Some(part) = waiting.remove(next) {
            self.sink.send(Progress::Decoded(part));
            *next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(text: &str) -> Transcript {
        Transcript {
            language: "english".into(),
            duration: 1.0,
            segments: vec![crate::engine::transcript::Segment {
                id: 0,
                start: 0.0,
                end: 1.0,
                text: text.into(),
                tokens: vec![],
                avg_logprob: 0.0,
                no_speech_prob: 0.0,
                logprobs: vec![],
            }],
            words: vec![],
        }
    }

    fn texts(receiver: &mut mpsc::UnboundedReceiver<Progress>) -> Vec<String> {
        let mut texts = Vec::new();
        while let Ok(progress) = receiver.try_recv() {
            if let Progress::Decoded(part) = progress {
                texts.push(part.text());
            }
        }
        texts
    }

    #[test]
    fn windows_finishing_out_of_order_are_passed_on_in_order() {
        let (sink, mut receiver) = ProgressSink::channel();
        let in_order = InOrder::new(&sink);
        in_order.finished(1, part("b"));
        assert!(
            texts(&mut receiver).is_empty(),
            "window 1 went before window 0"
        );
        in_order.finished(0, part("a"));
        assert_eq!(texts(&mut receiver), ["a", "b"]);
        in_order.finished(3, part("d"));
        in_order.finished(2, part("c"));
        assert_eq!(texts(&mut receiver), ["c", "d"]);
    }

    #[test]
    fn no_listener_means_nothing_is_wanted() {
        assert!(!ProgressSink::none().is_wanted());
        InOrder::new(&ProgressSink::none()).finished(0, part("a"));
    }
}
