//! Long audio decoded as pause-aligned windows on parallel whisper states must say what
//! whisper.cpp's own sequential decoding says, with every word timed on the whole recording.

use super::corpus::{self, Recording};
use super::server::{self, Server};
use super::wer;

/// Past two minutes: fourteen windows of about 9 s on two states.
const LONG_SECONDS: f64 = 120.0;
/// Most words the parallel transcript may differ by from the sequential one, per word.
const MAX_DIFFERENCE: f64 = 0.02;
/// The accuracy bar: at most half a point of WER worse than sequential decoding.
const MAX_WER_LOSS: f64 = 0.005;
/// How far a word's start may fall outside the utterance it was spoken in: whisper's token
/// times are estimates. A window joined at the wrong offset misplaces words by 20 s or more.
const TIME_TOLERANCE: f64 = 1.0;

/// A transcript as normalised words, each with its start time.
struct Decoded {
    words: Vec<String>,
    starts: Vec<f64>,
    windows_in_parallel: f64,
    /// Windows (or the whole clip) decoded with a fitted audio context and kept.
    fitted_kept: f64,
}

async fn decode(recording: &Recording, args: &[&str]) -> Decoded {
    let client = server::client();
    let server = Server::start(&client, args).await;
    let body = server
        .transcribe(
            &client,
            recording.wav.clone(),
            &[
                ("response_format", "verbose_json"),
                ("timestamp_granularities[]", "word"),
            ],
        )
        .await;
    let (mut words, mut starts) = (Vec::new(), Vec::new());
    for word in body["words"].as_array().expect("verbose_json has words") {
        let start = word["start"].as_f64().expect("a word has a start");
        for token in wer::normalise(word["word"].as_str().expect("a word has text")) {
            words.push(token);
            starts.push(start);
        }
    }
    assert_eq!(
        words,
        wer::normalise(&server::text(&body)),
        "the words must spell the text"
    );
    Decoded {
        words,
        starts,
        windows_in_parallel: server
            .metric(&client, "whisper_parallel_windows_total")
            .await,
        fitted_kept: server
            .metric(&client, "whisper_fitted_context_total{outcome=\"kept\"}")
            .await,
    }
}

/// The reference words of the whole recording, each with the span of its utterance.
fn reference(recording: &Recording) -> (Vec<String>, Vec<std::ops::Range<f64>>) {
    let mut words = Vec::new();
    let mut spans = Vec::new();
    for (span, text) in &recording.utterances {
        for word in wer::normalise(text) {
            words.push(word);
            spans.push(span.clone());
        }
    }
    (words, spans)
}

/// Recognised words whose start lies outside the utterance they were matched to.
fn misplaced_words(
    decoded: &Decoded,
    reference: &[String],
    spans: &[std::ops::Range<f64>],
) -> Vec<String> {
    wer::matched_words(reference, &decoded.words)
        .into_iter()
        .filter(|&(r, h)| {
            let (span, start) = (&spans[r], decoded.starts[h]);
            start < span.start - TIME_TOLERANCE || start > span.end + TIME_TOLERANCE
        })
        .map(|(r, h)| {
            format!(
                "{:?} at {:.2} s, spoken {:.2}-{:.2} s",
                reference[r], decoded.starts[h], spans[r].start, spans[r].end
            )
        })
        .collect()
}

#[tokio::test]
async fn parallel_windows_match_sequential_decoding_of_a_long_real_recording() {
    let recording = corpus::long_recording(LONG_SECONDS);
    // Windows of about 10 s (short enough for a fitted context), in a row on one state and
    // rounded up to a multiple of the two states in parallel.
    let in_a_row_windows = (recording.seconds / 10.0).ceil();
    let windows = (in_a_row_windows / 2.0).ceil() * 2.0;
    // Two threads whatever else runs (the corpus test beside this one), so two states with one
    // thread each, on any machine.
    let fixed = ["--threads", "2", "--adapt-threads-to-load", "false"];
    let sequential = decode(
        &recording,
        &[&fixed[..], &["--parallel-windows", "false"]].concat(),
    )
    .await;
    let parallel = decode(&recording, &fixed).await;
    // One thread, one state: the planned windows in a row instead of whisper.cpp's windowing.
    let in_a_row = decode(
        &recording,
        &["--threads", "1", "--adapt-threads-to-load", "false"],
    )
    .await;
    assert_eq!(
        in_a_row.windows_in_parallel, in_a_row_windows,
        "one thread decodes the same 10 s windows in a row"
    );
    assert_eq!(sequential.windows_in_parallel, 0.0);
    // Without fitted contexts, one state keeps whisper.cpp's own windowing (which passes each
    // window's text on as a prompt): the same decoding as with parallel windows off.
    let unfitted_one_state = decode(
        &recording,
        &[
            &fixed[..],
            &["--slots", "1", "--fit-audio-context", "false"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(unfitted_one_state.windows_in_parallel, 0.0);
    assert_eq!(
        unfitted_one_state.words, sequential.words,
        "one state without fitted contexts must decode as whisper.cpp does"
    );
    // 121 s is too long to fit; the 10 s windows are short enough.
    assert_eq!(sequential.fitted_kept, 0.0);
    eprintln!(
        "parallel: {} windows, {} kept a fitted audio context",
        parallel.windows_in_parallel, parallel.fitted_kept
    );
    assert_eq!(
        parallel.windows_in_parallel, windows,
        "{:.1} s must decode as {windows} parallel windows",
        recording.seconds
    );
    // Every window is short enough to try a fitted context; the guard may throw a few away.
    assert!(
        parallel.fitted_kept >= 0.75 * windows,
        "only {} of {windows} windows kept a fitted context",
        parallel.fitted_kept
    );

    let (reference, spans) = reference(&recording);
    let rate = |errors: usize, words: usize| errors as f64 / words.max(1) as f64;
    let differs = |decoded: &Decoded| {
        rate(
            wer::word_errors(&sequential.words, &decoded.words),
            sequential.words.len(),
        )
    };
    let difference = differs(&parallel);
    let sequential_wer = rate(
        wer::word_errors(&reference, &sequential.words),
        reference.len(),
    );
    let wer_of = |decoded: &Decoded| {
        rate(
            wer::word_errors(&reference, &decoded.words),
            reference.len(),
        )
    };
    let parallel_wer = wer_of(&parallel);
    eprintln!(
        "{:.1} s, {} reference words: sequential WER {:.2}%, parallel WER {:.2}%, \
         parallel differs from sequential by {:.2}% of its words; one thread in a row: \
         WER {:.2}%, differs by {:.2}%",
        recording.seconds,
        reference.len(),
        sequential_wer * 100.0,
        parallel_wer * 100.0,
        difference * 100.0,
        wer_of(&in_a_row) * 100.0,
        differs(&in_a_row) * 100.0
    );
    for (name, decoded) in [("parallel", &parallel), ("one thread", &in_a_row)] {
        assert!(
            differs(decoded) <= MAX_DIFFERENCE,
            "{name}: windows changed {:.2}% of the words",
            differs(decoded) * 100.0
        );
        assert!(
            wer_of(decoded) <= sequential_wer + MAX_WER_LOSS,
            "{name}: windows cost accuracy: WER {:.2}% against {:.2}% sequential",
            wer_of(decoded) * 100.0,
            sequential_wer * 100.0
        );
    }
    for (name, decoded) in [
        ("sequential", &sequential),
        ("parallel", &parallel),
        ("one thread", &in_a_row),
    ] {
        assert!(
            decoded.starts.windows(2).all(|w| w[0] <= w[1]),
            "{name}: word times go backwards"
        );
        let misplaced = misplaced_words(decoded, &reference, &spans);
        assert!(
            misplaced.is_empty(),
            "{name}: {} words timed outside their utterance: {misplaced:#?}",
            misplaced.len()
        );
    }
}
