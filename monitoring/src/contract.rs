//! The metrics whisper-server exports (the contract the dashboard, the alert rules and the tests
//! rely on): the one list of their names, which the server registers its metrics under, and
//! reading the series names out of a real `/metrics` page.

use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: MetricKind,
    /// A dashboard panel, alert rule or useful query reads it; the others are there for a person
    /// looking into the engine (threads, windows, fitted contexts).
    pub watched: bool,
}

const fn watched(name: &'static str, kind: MetricKind) -> Metric {
    Metric {
        name,
        kind,
        watched: true,
    }
}

const fn diagnostic(name: &'static str, kind: MetricKind) -> Metric {
    Metric {
        name,
        kind,
        watched: false,
    }
}

/// Every metric family the server exports, one constant each: the server registers its metrics
/// under these names, and the monitoring assets' tests check their queries against them.
pub mod names {
    use super::MetricKind::{Counter, Gauge, Histogram};
    use super::{Metric, diagnostic, watched};

    pub const TRANSCRIPTION_REQUESTS: Metric =
        watched("whisper_transcription_requests_total", Counter);
    pub const TRANSCRIPTION_ERRORS: Metric = watched("whisper_transcription_errors_total", Counter);
    pub const TRANSCRIPTION_DURATION: Metric =
        watched("whisper_transcription_duration_seconds", Histogram);
    pub const AUDIO_LOAD_DURATION: Metric =
        watched("whisper_audio_load_duration_seconds", Histogram);
    /// Times resampling, as its help text says (the name is the seed's).
    pub const PROCESSING_DURATION: Metric =
        watched("whisper_processing_duration_seconds", Histogram);
    pub const INFERENCE_DURATION: Metric = watched("whisper_inference_duration_seconds", Histogram);
    /// Times formatting the response, as its help text says (the name is the seed's).
    pub const DECODE_DURATION: Metric = watched("whisper_decode_duration_seconds", Histogram);
    pub const MODEL_LOADED: Metric = watched("whisper_model_loaded", Gauge);
    pub const QUEUE_DEPTH: Metric = watched("whisper_queue_depth", Gauge);
    pub const INFLIGHT_REQUESTS: Metric = watched("whisper_inflight_requests", Gauge);
    pub const SLOTS: Metric = watched("whisper_slots", Gauge);
    pub const AUDIO_SECONDS: Metric = watched("whisper_audio_seconds_total", Counter);
    pub const MODEL_LOAD_DURATION: Metric = watched("whisper_model_load_duration_seconds", Gauge);
    pub const BUILD_INFO: Metric = watched("whisper_build_info", Gauge);
    pub const BUSY_SLOTS: Metric = diagnostic("whisper_busy_slots", Gauge);
    pub const INFERENCE_THREADS: Metric = diagnostic("whisper_inference_threads", Gauge);
    pub const INFERENCE_THREAD_BUDGET: Metric =
        diagnostic("whisper_inference_thread_budget", Gauge);
    pub const CPU_BUSY_ELSEWHERE: Metric = diagnostic("whisper_cpu_busy_elsewhere_cores", Gauge);
    pub const PARALLEL_WINDOWS: Metric = diagnostic("whisper_parallel_windows_total", Counter);
    pub const FITTED_CONTEXT: Metric = diagnostic("whisper_fitted_context_total", Counter);
    pub const WINDOW_STATES: Metric = diagnostic("whisper_window_states_total", Counter);
    pub const VAD_DURATION: Metric = diagnostic("whisper_vad_duration_seconds", Histogram);
    pub const VAD_SKIPPED_AUDIO: Metric =
        diagnostic("whisper_vad_skipped_audio_seconds_total", Counter);
}

/// Every metric family the server exports, by its exposition name.
pub const CONTRACT: &[Metric] = &[
    names::TRANSCRIPTION_REQUESTS,
    names::TRANSCRIPTION_ERRORS,
    names::TRANSCRIPTION_DURATION,
    names::AUDIO_LOAD_DURATION,
    names::PROCESSING_DURATION,
    names::INFERENCE_DURATION,
    names::DECODE_DURATION,
    names::MODEL_LOADED,
    names::QUEUE_DEPTH,
    names::INFLIGHT_REQUESTS,
    names::SLOTS,
    names::AUDIO_SECONDS,
    names::MODEL_LOAD_DURATION,
    names::BUILD_INFO,
    names::BUSY_SLOTS,
    names::INFERENCE_THREADS,
    names::INFERENCE_THREAD_BUDGET,
    names::CPU_BUSY_ELSEWHERE,
    names::PARALLEL_WINDOWS,
    names::FITTED_CONTEXT,
    names::WINDOW_STATES,
    names::VAD_DURATION,
    names::VAD_SKIPPED_AUDIO,
];

/// Series Prometheus writes itself for every target; queries may use them like exported ones.
const SCRAPE_SERIES: &[&str] = &["up", "scrape_duration_seconds", "scrape_samples_scraped"];

/// The series names a contract produces: a histogram is its `_bucket`, `_sum` and `_count`.
pub fn exported_series(contract: &[Metric]) -> BTreeSet<String> {
    contract
        .iter()
        .flat_map(|m| match m.kind {
            MetricKind::Histogram => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{}{suffix}", m.name))
                .collect(),
            MetricKind::Counter | MetricKind::Gauge => vec![m.name.to_string()],
        })
        .collect()
}

/// Whether a query may name `series`: the server exports it, or Prometheus writes it per target.
pub fn is_exported(series: &str, exported: &BTreeSet<String>) -> bool {
    exported.contains(series) || SCRAPE_SERIES.contains(&series)
}

/// The series names on a Prometheus text exposition page (`/metrics`), comments skipped.
pub fn series_in_exposition(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_expand_to_bucket_sum_and_count() {
        let series = exported_series(&[
            watched("a_seconds", MetricKind::Histogram),
            diagnostic("b_total", MetricKind::Counter),
        ]);
        let expected: BTreeSet<String> = [
            "a_seconds_bucket",
            "a_seconds_count",
            "a_seconds_sum",
            "b_total",
        ]
        .map(String::from)
        .into();
        assert_eq!(series, expected);
    }

    #[test]
    fn every_name_is_listed_once() {
        let unique: BTreeSet<_> = CONTRACT.iter().map(|m| m.name).collect();
        assert_eq!(unique.len(), CONTRACT.len());
    }

    #[test]
    fn scrape_series_count_as_exported() {
        let exported = exported_series(CONTRACT);
        assert!(is_exported("up", &exported));
        assert!(is_exported("whisper_slots", &exported));
        assert!(!is_exported("whisper_slots_total", &exported));
    }

    #[test]
    fn exposition_names_skip_comments_and_labels() {
        let page =
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{endpoint=\"a b\"} 3\n\ny 1\n";
        let expected: BTreeSet<String> = ["x_total", "y"].map(String::from).into();
        assert_eq!(series_in_exposition(page), expected);
    }
}
