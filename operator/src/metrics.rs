//! The operator's own Prometheus metrics. Labels are bounded: error categories only, never
//! object names.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Counters and histograms of reconciliation.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub reconciliations: IntCounter,
    pub failures: IntCounterVec,
    pub duration: HistogramVec,
    pub leader: IntGauge,
    /// Server-side applies by kind and whether the API server stored anything new.
    pub applies: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let reconciliations = IntCounter::new(
            "whisper_operator_reconciliations_total",
            "WhisperService reconciliations started",
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                "whisper_operator_reconcile_errors_total",
                "Failed reconciliations by error category",
            ),
            &["category"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "whisper_operator_reconcile_duration_seconds",
                "Time one reconciliation took",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["outcome"],
        )?;
        let leader = IntGauge::new(
            "whisper_operator_leader",
            "1 while this replica holds the leader lease (or runs without election)",
        )?;
        let applies = IntCounterVec::new(
            Opts::new(
                "whisper_operator_applies_total",
                "Applies of children by kind; outcome changed, unchanged (the API server kept the version it had) or skipped (known to be current, not sent)",
            ),
            &["kind", "outcome"],
        )?;
        registry.register(Box::new(reconciliations.clone()))?;
        registry.register(Box::new(applies.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(leader.clone()))?;
        Ok(Self {
            registry,
            reconciliations,
            failures,
            duration,
            leader,
            applies,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_category_label() {
        let m = Metrics::new().expect("metrics register");
        m.reconciliations.inc();
        m.failures.with_label_values(&["apply"]).inc();
        let text = m.render().expect("render");
        assert!(text.contains("whisper_operator_reconciliations_total 1"));
        assert!(text.contains("whisper_operator_reconcile_errors_total{category=\"apply\"} 1"));
    }
}
