//! The metrics whisper-server exports (the contract the dashboard, the alert rules and the tests
//! rely on), and reading the series names out of a real `/metrics` page.

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
}

const fn metric(name: &'static str, kind: MetricKind) -> Metric {
    Metric { name, kind }
}

/// Every metric family the server promises, by its exposition name.
pub const CONTRACT: &[Metric] = &[
    metric("whisper_transcription_requests_total", MetricKind::Counter),
    metric("whisper_transcription_errors_total", MetricKind::Counter),
    metric(
        "whisper_transcription_duration_seconds",
        MetricKind::Histogram,
    ),
    metric("whisper_audio_load_duration_seconds", MetricKind::Histogram),
    metric("whisper_processing_duration_seconds", MetricKind::Histogram),
    metric("whisper_inference_duration_seconds", MetricKind::Histogram),
    metric("whisper_decode_duration_seconds", MetricKind::Histogram),
    metric("whisper_model_loaded", MetricKind::Gauge),
    metric("whisper_queue_depth", MetricKind::Gauge),
    metric("whisper_inflight_requests", MetricKind::Gauge),
    metric("whisper_slots", MetricKind::Gauge),
    metric("whisper_audio_seconds_total", MetricKind::Counter),
    metric("whisper_model_load_duration_seconds", MetricKind::Gauge),
    metric("whisper_build_info", MetricKind::Gauge),
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
            metric("a_seconds", MetricKind::Histogram),
            metric("b_total", MetricKind::Counter),
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
