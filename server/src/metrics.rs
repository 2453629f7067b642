//! The server's Prometheus registry. Each part of the server defines the metrics it measures and
//! registers them here; their names are a contract with the dashboard, the alert rules and the
//! tests.

use prometheus::core::Collector;
use prometheus::{Encoder, Gauge, GaugeVec, HistogramOpts, IntGauge, Opts, Registry, TextEncoder};

use crate::audio::AudioMetrics;
use crate::engine::EngineMetrics;
use crate::routes::accounting::RequestMetrics;
use whisper_monitoring::names;

/// Suits requests from milliseconds (errors) to minutes (long audio on a CPU).
pub const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// The two transcription endpoints, the only values of the `endpoint` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Transcriptions,
    Translations,
}

impl Endpoint {
    pub fn label(self) -> &'static str {
        match self {
            Self::Transcriptions => "transcriptions",
            Self::Translations => "translations",
        }
    }
}

/// The registry, with each part's metrics: the part that measures them defines and updates them
/// (`RequestMetrics` the accounting of transcription requests, `AudioMetrics` the audio stage, `EngineMetrics`
/// the engine); the model's own gauges are set where it is loaded (`serve::load_model`).
pub struct Metrics {
    registry: Registry,
    pub requests: RequestMetrics,
    pub audio: AudioMetrics,
    pub engine: EngineMetrics,
    pub model_loaded: IntGauge,
    pub model_load_duration: Gauge,
}

/// Histogram options with the server's buckets.
pub fn histogram(name: &str, help: &str) -> HistogramOpts {
    HistogramOpts::new(name, help).buckets(BUCKETS.to_vec())
}

/// Registers `metric` and hands it back, for a part building its metrics in one expression.
pub fn register<M: Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> Result<M, prometheus::Error> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let build_info = register(
            &registry,
            GaugeVec::new(
                Opts::new(
                    names::BUILD_INFO.name,
                    "Always 1; labels describe the build.",
                ),
                &["version", "backend"],
            )?,
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), backend()])
            .set(1.0);
        Ok(Self {
            requests: RequestMetrics::register(&registry)?,
            audio: AudioMetrics::register(&registry)?,
            engine: EngineMetrics::register(&registry)?,
            model_loaded: register(
                &registry,
                IntGauge::new(
                    names::MODEL_LOADED.name,
                    "1 while a model is loaded, else 0.",
                )?,
            )?,
            model_load_duration: register(
                &registry,
                Gauge::new(
                    names::MODEL_LOAD_DURATION.name,
                    "Time it took to load the model.",
                )?,
            )?,
            registry,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

fn backend() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else {
        "cpu"
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prometheus::proto::MetricType;
    use whisper_monitoring::{CONTRACT, MetricKind, exported_series, series_in_exposition};

    use super::*;

    /// The page holds every series of the contract list (an error recorded, so the error counter
    /// has one), and every family it holds is in that list, of the listed kind.
    #[test]
    fn renders_every_contract_metric() -> Result<(), prometheus::Error> {
        let metrics = Metrics::new()?;
        metrics
            .requests
            .failed(Endpoint::Transcriptions, "bad_request");
        let shown = series_in_exposition(&metrics.render()?);
        let listed = exported_series(CONTRACT);
        let missing: BTreeSet<_> = listed.difference(&shown).collect();
        assert!(missing.is_empty(), "/metrics lacks {missing:?}");
        let unlisted: BTreeSet<_> = shown.difference(&listed).collect();
        assert!(unlisted.is_empty(), "/metrics shows unlisted {unlisted:?}");
        for family in metrics.registry.gather() {
            let listed = CONTRACT
                .iter()
                .find(|m| m.name == family.name())
                .unwrap_or_else(|| panic!("{} is not in the contract", family.name()));
            let kind = match family.get_field_type() {
                MetricType::COUNTER => MetricKind::Counter,
                MetricType::GAUGE => MetricKind::Gauge,
                MetricType::HISTOGRAM => MetricKind::Histogram,
                other => panic!("{} is a {other:?}", family.name()),
            };
            assert_eq!(kind, listed.kind, "{}", family.name());
        }
        Ok(())
    }
}
