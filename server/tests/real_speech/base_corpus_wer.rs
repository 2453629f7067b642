//! The multilingual base model on the English corpus, through the server as shipped: its
//! levers must not cost base words either, and base must not mistake English for another
//! language.

use super::corpus;
use super::corpus_wer;
use super::server;

/// Highest accepted corpus WER for base: whisper.cpp's default full-context greedy decoding of
/// base, language detected as the server does without a `language` field, on this corpus
/// (docs/benchmarks.md); plus half a point.
const MAX_BASE_WER: f64 = 0.0314;

#[tokio::test]
async fn the_base_model_stays_within_half_a_point_of_full_context_decoding_on_english() {
    let extra = server::args_under_test();
    let args: Vec<&str> = extra.iter().map(String::as_str).collect();
    corpus_wer::assert_corpus_wer_under_the_bar(&corpus::base_model(), &args, MAX_BASE_WER).await;
}
