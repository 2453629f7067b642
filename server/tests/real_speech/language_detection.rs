//! With no `language` field, the multilingual model must find the spoken language itself.

use super::corpus;
use super::multilingual_corpus::{self, LANGUAGES};
use super::server::{self, Server};

/// Most clips of one language whose detected language may be wrong: one more than the base
/// model misses in either language of the held set through the server as shipped
/// (docs/benchmarks.md, "Multilingual held set"). Room for a change that moves one borderline
/// clip, not for a broken detector.
const MAX_MISSES_PER_LANGUAGE: usize = 2;

#[tokio::test]
async fn the_base_model_detects_spanish_and_french_on_nearly_every_clip() {
    let clips = multilingual_corpus::clips();
    let client = server::client();
    let server =
        Server::start_with_model(&client, &corpus::base_model(), &server::args_under_test()).await;
    let mut misses = Vec::new();
    for clip in &clips {
        let body = server
            .transcribe(&client, clip.read(), &[("response_format", "verbose_json")])
            .await;
        let detected = body["language"]
            .as_str()
            .unwrap_or_else(|| panic!("no language in {body}"));
        let (_, expected) = LANGUAGES
            .iter()
            .find(|(code, _)| *code == clip.language)
            .unwrap_or_else(|| panic!("{}: unknown language {}", clip.name(), clip.language));
        let verdict = if detected == *expected { "ok" } else { "MISS" };
        eprintln!(
            "{verdict:<4} {}: detected {detected}: {:?}",
            clip.name(),
            server::text(&body)
        );
        if detected != *expected {
            misses.push(clip.language.clone());
        }
    }
    for (code, name) in LANGUAGES {
        let total = clips.iter().filter(|c| c.language == code).count();
        let missed = misses.iter().filter(|m| *m == code).count();
        eprintln!("{name}: {} of {total} detected", total - missed);
        assert!(
            missed <= MAX_MISSES_PER_LANGUAGE,
            "{missed} of {total} {name} clips were detected as another language (bar \
             {MAX_MISSES_PER_LANGUAGE}; every clip's result above)"
        );
    }
}
