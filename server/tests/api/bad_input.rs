//! Every bad input gets a 4xx OpenAI-shaped error, counts under its reason, and leaves the
//! server able to transcribe.

use reqwest::multipart::Form;
use serde_json::Value;

use crate::fixtures::{self, EXPECTED, normalise};
use crate::server::{API_KEY, TestServer, shared};

const TRANSCRIPTIONS: &str = "/v1/audio/transcriptions";

#[derive(Debug, Clone, Copy)]
enum Case {
    EmptyBody,
    MissingFile,
    EmptyFile,
    UnknownResponseFormat,
    BadTemperature,
    BadBeamSize,
    UnknownLanguage,
    LanguageTheModelCannotSpeak,
    TruncatedAudio,
    RandomBytes,
    WavHeaderLyingAboutSize,
    UnsupportedCodec,
    TooLargeUpload,
    TooLongAudio,
    BadApiKey,
    SampleRateOf1Hz,
    SampleRateOf4GHz,
    ChannelsPast32,
    LogprobsWithSrt,
    UnknownInclude,
    StreamWithSrt,
    StreamNotABoolean,
    UnknownChunkingStrategy,
    ChunkingThresholdOutOfRange,
}

const ALL: [Case; 24] = [
    Case::EmptyBody,
    Case::MissingFile,
    Case::EmptyFile,
    Case::UnknownResponseFormat,
    Case::BadTemperature,
    Case::BadBeamSize,
    Case::UnknownLanguage,
    Case::LanguageTheModelCannotSpeak,
    Case::TruncatedAudio,
    Case::RandomBytes,
    Case::WavHeaderLyingAboutSize,
    Case::UnsupportedCodec,
    Case::TooLargeUpload,
    Case::TooLongAudio,
    Case::BadApiKey,
    Case::SampleRateOf1Hz,
    Case::SampleRateOf4GHz,
    Case::ChannelsPast32,
    Case::LogprobsWithSrt,
    Case::UnknownInclude,
    Case::StreamWithSrt,
    Case::StreamNotABoolean,
    Case::UnknownChunkingStrategy,
    Case::ChunkingThresholdOutOfRange,
];

/// Deterministic noise that no container sniffer recognises.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A valid WAV whose data chunk claims far more bytes than the file holds.
fn lying_wav() -> Vec<u8> {
    let mut wav = fixtures::bytes("speech.wav");
    let pos = wav
        .windows(4)
        .position(|w| w == b"data")
        .unwrap_or_else(|| panic!("no data chunk"));
    wav[pos + 4..pos + 8].copy_from_slice(&200_000_000u32.to_le_bytes());
    wav[4..8].copy_from_slice(&200_000_036u32.to_le_bytes());
    wav
}

/// The speech WAV with its header's sample rate and channel count replaced (the byte rate and
/// block alignment follow, so only the two values are implausible).
fn wav_declaring(sample_rate: u32, channels: u16) -> Vec<u8> {
    let mut wav = fixtures::bytes("speech.wav");
    let fmt = wav
        .windows(4)
        .position(|w| w == b"fmt ")
        .unwrap_or_else(|| panic!("no fmt chunk"));
    let field = |offset: usize| fmt + 8 + offset;
    let bits = u16::from_le_bytes([wav[field(14)], wav[field(15)]]);
    let block_align = channels * bits / 8;
    wav[field(2)..field(4)].copy_from_slice(&channels.to_le_bytes());
    wav[field(4)..field(8)].copy_from_slice(&sample_rate.to_le_bytes());
    let byte_rate = sample_rate.wrapping_mul(u32::from(block_align));
    wav[field(8)..field(12)].copy_from_slice(&byte_rate.to_le_bytes());
    wav[field(12)..field(14)].copy_from_slice(&block_align.to_le_bytes());
    wav
}

/// A FLAC file cut off in the middle of its frames.
fn truncated_flac() -> Vec<u8> {
    let mut flac = fixtures::bytes("speech.flac");
    flac.truncate(flac.len() / 2);
    flac
}

impl Case {
    fn expected(self) -> (u16, &'static str) {
        match self {
            Case::EmptyBody
            | Case::MissingFile
            | Case::UnknownResponseFormat
            | Case::BadTemperature
            | Case::BadBeamSize
            | Case::UnknownLanguage
            | Case::LanguageTheModelCannotSpeak
            | Case::LogprobsWithSrt
            | Case::UnknownInclude
            | Case::StreamWithSrt
            | Case::StreamNotABoolean
            | Case::UnknownChunkingStrategy
            | Case::ChunkingThresholdOutOfRange => (400, "bad_request"),
            Case::EmptyFile
            | Case::TruncatedAudio
            | Case::WavHeaderLyingAboutSize
            | Case::SampleRateOf1Hz
            | Case::SampleRateOf4GHz
            | Case::ChannelsPast32 => (400, "decode_failed"),
            Case::RandomBytes | Case::UnsupportedCodec => (415, "unsupported_format"),
            Case::TooLargeUpload => (413, "payload_too_large"),
            Case::TooLongAudio => (413, "audio_too_long"),
            Case::BadApiKey => (401, "unauthorized"),
        }
    }

    async fn send(self, server: &TestServer) -> reqwest::Response {
        let audio = |bytes: Vec<u8>, name: &str| (bytes, name.to_string());
        let (file, name) = match self {
            Case::EmptyBody => {
                return server
                    .client
                    .post(server.url(TRANSCRIPTIONS))
                    .bearer_auth(API_KEY)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            Case::MissingFile => {
                let form = Form::new().text("model", "whisper-1");
                return server
                    .client
                    .post(server.url(TRANSCRIPTIONS))
                    .bearer_auth(API_KEY)
                    .multipart(form)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            Case::BadApiKey => {
                let form = Form::new().part(
                    "file",
                    reqwest::multipart::Part::bytes(fixtures::bytes("speech.wav"))
                        .file_name("a.wav"),
                );
                return server
                    .client
                    .post(server.url(TRANSCRIPTIONS))
                    .bearer_auth("wrong-key")
                    .multipart(form)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            Case::EmptyFile => audio(Vec::new(), "empty.wav"),
            Case::UnknownResponseFormat
            | Case::BadTemperature
            | Case::BadBeamSize
            | Case::UnknownLanguage
            | Case::LanguageTheModelCannotSpeak
            | Case::LogprobsWithSrt
            | Case::UnknownInclude
            | Case::StreamWithSrt
            | Case::StreamNotABoolean
            | Case::UnknownChunkingStrategy
            | Case::ChunkingThresholdOutOfRange => {
                audio(fixtures::bytes("speech.wav"), "speech.wav")
            }
            Case::TruncatedAudio => audio(truncated_flac(), "cut.flac"),
            Case::RandomBytes => audio(random_bytes(64 * 1024), "noise.wav"),
            Case::WavHeaderLyingAboutSize => audio(lying_wav(), "lying.wav"),
            Case::UnsupportedCodec => audio(fixtures::bytes("speech.opus"), "speech.opus"),
            Case::TooLargeUpload => audio(random_bytes(5_100_000), "big.wav"),
            Case::TooLongAudio => audio(fixtures::bytes("long.wav"), "long.wav"),
            Case::SampleRateOf1Hz => audio(wav_declaring(1, 1), "1hz.wav"),
            Case::SampleRateOf4GHz => audio(wav_declaring(4_000_000_000, 1), "4ghz.wav"),
            Case::ChannelsPast32 => audio(wav_declaring(16_000, 34), "34ch.wav"),
        };
        let fields: &[(&str, &str)] = match self {
            Case::UnknownResponseFormat => &[("response_format", "xml")],
            Case::BadTemperature => &[("temperature", "7")],
            Case::BadBeamSize => &[("beam_size", "64")],
            Case::UnknownLanguage => &[("language", "klingon")],
            Case::LanguageTheModelCannotSpeak => &[("language", "de")],
            Case::LogprobsWithSrt => &[("response_format", "srt"), ("include[]", "logprobs")],
            Case::UnknownInclude => &[("include[]", "everything")],
            Case::StreamWithSrt => &[("response_format", "srt"), ("stream", "true")],
            Case::StreamNotABoolean => &[("stream", "sometimes")],
            Case::UnknownChunkingStrategy => &[("chunking_strategy", "by-sentence")],
            Case::ChunkingThresholdOutOfRange => &[
                ("chunking_strategy[type]", "server_vad"),
                ("chunking_strategy[threshold]", "1.5"),
            ],
            _ => &[],
        };
        server.post_audio(TRANSCRIPTIONS, file, &name, fields).await
    }
}

impl Case {
    /// What the error message must name, where the case is about one value.
    fn named_value(self) -> Option<&'static str> {
        match self {
            Case::SampleRateOf1Hz => Some("1 Hz"),
            Case::SampleRateOf4GHz => Some("4000000000 Hz"),
            Case::ChannelsPast32 => Some("34 channels"),
            Case::LogprobsWithSrt => Some("json only"),
            Case::UnknownInclude => Some("everything"),
            Case::StreamWithSrt => Some("json or text"),
            Case::StreamNotABoolean => Some("sometimes"),
            Case::UnknownChunkingStrategy => Some("by-sentence"),
            Case::ChunkingThresholdOutOfRange => Some("threshold must be from 0 to 1, not 1.5"),
            _ => None,
        }
    }
}

async fn assert_rejected(case: Case) {
    let server = shared();
    let (status, reason) = case.expected();
    let labels = [("endpoint", "transcriptions"), ("reason", reason)];
    let before = server
        .metric("whisper_transcription_errors_total", &labels)
        .await;
    let response = case.send(server).await;
    assert_eq!(response.status().as_u16(), status, "{case:?}");
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{case:?}: body is not JSON: {e}"));
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case:?}: {body}"
    );
    assert!(error["type"].is_string(), "{case:?}: {body}");
    if let Some(value) = case.named_value() {
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(value)),
            "{case:?}: the message should name {value}: {body}"
        );
    }
    assert_eq!(error["code"], reason, "{case:?}: {body}");
    let after = server
        .metric("whisper_transcription_errors_total", &labels)
        .await;
    assert!(
        after >= before + 1.0,
        "{case:?}: errors{{reason={reason}}} {before} -> {after}"
    );
}

#[tokio::test]
async fn empty_body_is_400() {
    assert_rejected(Case::EmptyBody).await;
}

#[tokio::test]
async fn missing_file_field_is_400() {
    assert_rejected(Case::MissingFile).await;
}

#[tokio::test]
async fn empty_file_is_400_decode_failed() {
    assert_rejected(Case::EmptyFile).await;
}

#[tokio::test]
async fn unknown_response_format_is_400() {
    assert_rejected(Case::UnknownResponseFormat).await;
}

#[tokio::test]
async fn out_of_range_temperature_is_400() {
    assert_rejected(Case::BadTemperature).await;
}

#[tokio::test]
async fn out_of_range_beam_size_is_400() {
    assert_rejected(Case::BadBeamSize).await;
}

#[tokio::test]
async fn unknown_language_is_400() {
    assert_rejected(Case::UnknownLanguage).await;
}

#[tokio::test]
async fn language_an_english_only_model_cannot_speak_is_400() {
    assert_rejected(Case::LanguageTheModelCannotSpeak).await;
}

#[tokio::test]
async fn truncated_audio_is_400_decode_failed() {
    assert_rejected(Case::TruncatedAudio).await;
}

#[tokio::test]
async fn random_bytes_are_415() {
    assert_rejected(Case::RandomBytes).await;
}

#[tokio::test]
async fn wav_header_lying_about_its_size_is_400() {
    assert_rejected(Case::WavHeaderLyingAboutSize).await;
}

#[tokio::test]
async fn unsupported_codec_is_415() {
    assert_rejected(Case::UnsupportedCodec).await;
}

#[tokio::test]
async fn upload_over_the_byte_limit_is_413() {
    assert_rejected(Case::TooLargeUpload).await;
}

#[tokio::test]
async fn audio_over_the_duration_limit_is_413() {
    assert_rejected(Case::TooLongAudio).await;
}

#[tokio::test]
async fn a_sample_rate_of_1_hz_is_400_naming_it() {
    assert_rejected(Case::SampleRateOf1Hz).await;
}

#[tokio::test]
async fn a_sample_rate_of_4_ghz_is_400_naming_it() {
    assert_rejected(Case::SampleRateOf4GHz).await;
}

#[tokio::test]
async fn more_than_32_channels_is_400_naming_the_count() {
    assert_rejected(Case::ChannelsPast32).await;
}

#[tokio::test]
async fn logprobs_with_a_format_other_than_json_is_400() {
    assert_rejected(Case::LogprobsWithSrt).await;
}

#[tokio::test]
async fn an_unknown_include_is_400_naming_it() {
    assert_rejected(Case::UnknownInclude).await;
}

#[tokio::test]
async fn streaming_a_format_with_times_is_400() {
    assert_rejected(Case::StreamWithSrt).await;
}

#[tokio::test]
async fn a_stream_value_that_is_not_true_or_false_is_400_naming_it() {
    assert_rejected(Case::StreamNotABoolean).await;
}

#[tokio::test]
async fn an_unknown_chunking_strategy_is_400_naming_it() {
    assert_rejected(Case::UnknownChunkingStrategy).await;
}

#[tokio::test]
async fn a_vad_threshold_out_of_range_is_400_naming_it() {
    assert_rejected(Case::ChunkingThresholdOutOfRange).await;
}

#[tokio::test]
async fn wrong_api_key_is_401() {
    assert_rejected(Case::BadApiKey).await;
}

#[tokio::test]
async fn health_and_metrics_need_no_api_key_but_models_does() {
    let server = shared();
    for path in ["/healthz", "/readyz", "/metrics"] {
        let status = server
            .client
            .get(server.url(path))
            .send()
            .await
            .map(|r| r.status());
        assert_eq!(status.ok().map(|s| s.as_u16()), Some(200), "{path}");
    }
    let response = server
        .client
        .get(server.url("/v1/models"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn server_still_transcribes_after_every_bad_input() {
    for case in ALL {
        assert_rejected(case).await;
    }
    let response = shared()
        .post_audio(
            TRANSCRIPTIONS,
            fixtures::bytes("speech.wav"),
            "speech.wav",
            &[],
        )
        .await;
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap_or_default();
    assert_eq!(
        normalise(json["text"].as_str().unwrap_or_default()),
        normalise(EXPECTED)
    );
}
