//! Every Prometheus metric the server exports. Names are a contract with the dashboard, the alert
//! rules and the tests: they live here and nowhere else.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};

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

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub errors: IntCounterVec,
    pub request_duration: HistogramVec,
    pub audio_load_duration: Histogram,
    pub processing_duration: Histogram,
    pub inference_duration: Histogram,
    pub decode_duration: Histogram,
    pub model_loaded: IntGauge,
    pub queue_depth: IntGauge,
    pub inflight: IntGauge,
    pub busy_slots: IntGauge,
    pub slots: IntGauge,
    pub threads_in_use: IntGauge,
    pub thread_budget: IntGauge,
    pub cpu_busy_elsewhere: Gauge,
    pub parallel_windows: IntCounter,
    pub fitted_context: IntCounterVec,
    pub window_states: IntCounterVec,
    pub audio_seconds: prometheus::CounterVec,
    pub model_load_duration: Gauge,
    pub build_info: GaugeVec,
}

fn histogram(name: &str, help: &str) -> HistogramOpts {
    HistogramOpts::new(name, help).buckets(BUCKETS.to_vec())
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "whisper_transcription_requests_total",
                    "Requests that reached a transcription endpoint, good or bad.",
                ),
                &["endpoint"],
            )?,
            errors: IntCounterVec::new(
                Opts::new(
                    "whisper_transcription_errors_total",
                    "Failed transcription requests by bounded reason.",
                ),
                &["endpoint", "reason"],
            )?,
            request_duration: HistogramVec::new(
                histogram(
                    "whisper_transcription_duration_seconds",
                    "Whole transcription request, upload read to response.",
                ),
                &["endpoint"],
            )?,
            audio_load_duration: Histogram::with_opts(histogram(
                "whisper_audio_load_duration_seconds",
                "Reading the upload and decoding its container and codec.",
            ))?,
            processing_duration: Histogram::with_opts(histogram(
                "whisper_processing_duration_seconds",
                "Downmixing and resampling to 16 kHz mono.",
            ))?,
            inference_duration: Histogram::with_opts(histogram(
                "whisper_inference_duration_seconds",
                "whisper.cpp full() inference.",
            ))?,
            decode_duration: Histogram::with_opts(histogram(
                "whisper_decode_duration_seconds",
                "Turning segments and tokens into the response format.",
            ))?,
            model_loaded: IntGauge::new(
                "whisper_model_loaded",
                "1 while a model is loaded, else 0.",
            )?,
            queue_depth: IntGauge::new(
                "whisper_queue_depth",
                "Requests waiting for an inference slot.",
            )?,
            inflight: IntGauge::new(
                "whisper_inflight_requests",
                "Requests decoding: holding at least one inference slot.",
            )?,
            busy_slots: IntGauge::new(
                "whisper_busy_slots",
                "Inference slots in use, the extra ones a long request decodes windows on included.",
            )?,
            slots: IntGauge::new("whisper_slots", "Configured parallel inference slots.")?,
            threads_in_use: IntGauge::new(
                "whisper_inference_threads",
                "Threads running inference now, across all requests.",
            )?,
            thread_budget: IntGauge::new(
                "whisper_inference_thread_budget",
                "Threads all requests together may run (--threads).",
            )?,
            cpu_busy_elsewhere: Gauge::new(
                "whisper_cpu_busy_elsewhere_cores",
                "Host cores other processes kept busy over the last 300 ms; requests then get fewer threads.",
            )?,
            parallel_windows: IntCounter::new(
                "whisper_parallel_windows_total",
                "Windows of audio over 30 s decoded independently, cut at pauses: on several whisper states at once, or in a row on one thread.",
            )?,
            fitted_context: IntCounterVec::new(
                Opts::new(
                    "whisper_fitted_context_total",
                    "Short clips first decoded with the audio context fitted to them: kept, or \
                     the reason the result was discarded and the clip decoded again in full.",
                ),
                &["outcome"],
            )?,
            window_states: IntCounterVec::new(
                Opts::new(
                    "whisper_window_states_total",
                    "Whisper states a request decoding long audio gave back between windows \
                     to a waiting request (released), or took on while free (recruited).",
                ),
                &["change"],
            )?,
            audio_seconds: prometheus::CounterVec::new(
                Opts::new(
                    "whisper_audio_seconds_total",
                    "Seconds of input audio transcribed successfully.",
                ),
                &["endpoint"],
            )?,
            model_load_duration: Gauge::new(
                "whisper_model_load_duration_seconds",
                "Time it took to load the model.",
            )?,
            build_info: GaugeVec::new(
                Opts::new("whisper_build_info", "Always 1; labels describe the build."),
                &["version", "backend"],
            )?,
            registry,
        };
        metrics.register_all()?;
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), backend()])
            .set(1.0);
        metrics.fitted_context.with_label_values(&["kept"]);
        for change in crate::engine::StateChange::ALL {
            metrics.window_states.with_label_values(&[change.label()]);
        }
        for reason in crate::engine::fitted::Suspicion::ALL {
            metrics.fitted_context.with_label_values(&[reason.label()]);
        }
        // Pre-create the endpoint series so dashboards show zeros instead of gaps.
        for endpoint in [Endpoint::Transcriptions, Endpoint::Translations] {
            metrics.requests.with_label_values(&[endpoint.label()]);
            metrics
                .request_duration
                .with_label_values(&[endpoint.label()]);
            metrics.audio_seconds.with_label_values(&[endpoint.label()]);
        }
        Ok(metrics)
    }

    fn register_all(&self) -> Result<(), prometheus::Error> {
        let r = &self.registry;
        r.register(Box::new(self.requests.clone()))?;
        r.register(Box::new(self.errors.clone()))?;
        r.register(Box::new(self.request_duration.clone()))?;
        r.register(Box::new(self.audio_load_duration.clone()))?;
        r.register(Box::new(self.processing_duration.clone()))?;
        r.register(Box::new(self.inference_duration.clone()))?;
        r.register(Box::new(self.decode_duration.clone()))?;
        r.register(Box::new(self.model_loaded.clone()))?;
        r.register(Box::new(self.queue_depth.clone()))?;
        r.register(Box::new(self.inflight.clone()))?;
        r.register(Box::new(self.busy_slots.clone()))?;
        r.register(Box::new(self.slots.clone()))?;
        r.register(Box::new(self.threads_in_use.clone()))?;
        r.register(Box::new(self.thread_budget.clone()))?;
        r.register(Box::new(self.cpu_busy_elsewhere.clone()))?;
        r.register(Box::new(self.parallel_windows.clone()))?;
        r.register(Box::new(self.fitted_context.clone()))?;
        r.register(Box::new(self.window_states.clone()))?;
        r.register(Box::new(self.audio_seconds.clone()))?;
        r.register(Box::new(self.model_load_duration.clone()))?;
        r.register(Box::new(self.build_info.clone()))?;
        Ok(())
    }

    pub fn record_error(&self, endpoint: Endpoint, reason: &str) {
        self.errors
            .with_label_values(&[endpoint.label(), reason])
            .inc();
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
    use super::*;

    #[test]
    fn renders_every_contract_metric() -> Result<(), prometheus::Error> {
        let metrics = Metrics::new()?;
        metrics.record_error(Endpoint::Transcriptions, "bad_request");
        let text = metrics.render()?;
        for name in [
            "whisper_transcription_requests_total",
            "whisper_transcription_errors_total",
            "whisper_transcription_duration_seconds_bucket",
            "whisper_model_loaded",
            "whisper_build_info",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
        Ok(())
    }
}
