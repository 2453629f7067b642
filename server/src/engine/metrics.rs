//! What the engine measures: its queue, slots and threads, inference time and its speed levers.

use prometheus::{Counter, Gauge, Histogram, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use super::fitted::Suspicion;
use super::pool::PoolGauges;
use super::schedule::StateChange;
use crate::metrics::{histogram, register};
use whisper_monitoring::names;

/// Cheap to clone: every field is a handle on one registered metric.
#[derive(Clone)]
pub struct EngineMetrics {
    /// Requests waiting for their first slot (`whisper_queue_depth`).
    pub queue_depth: IntGauge,
    /// Requests holding at least one slot (`whisper_inflight_requests`).
    pub inflight: IntGauge,
    /// Slots in use, a long request's extra ones included (`whisper_busy_slots`).
    pub busy_slots: IntGauge,
    /// Slots configured, set once the model is loaded.
    pub slots: IntGauge,
    pub threads_in_use: IntGauge,
    /// Threads all requests together may run, set once the model is loaded.
    pub thread_budget: IntGauge,
    /// Cores other processes keep busy, as the load sampler last saw them (`cpu_load`).
    pub cpu_busy_elsewhere: Gauge,
    /// whisper.cpp decoding: every `full()` call of one request, fitted attempts included.
    pub inference_duration: Histogram,
    /// Windows decoded by `parallel_windows::decode_windows`.
    pub parallel_windows: IntCounter,
    /// Fitted-context decodes by outcome: `kept`, or the `fitted::Suspicion` that discarded it.
    pub fitted_context: IntCounterVec,
    /// Workers given back or taken on between windows, by `StateChange`.
    pub window_states: IntCounterVec,
    /// Voice activity detection over one request's audio (`vad`).
    pub vad_duration: Histogram,
    /// Seconds of audio the VAD found no speech in, so not decoded.
    pub vad_skipped_audio: Counter,
}

impl EngineMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            queue_depth: register(
                registry,
                IntGauge::new(
                    names::QUEUE_DEPTH.name,
                    "Requests waiting for an inference slot.",
                )?,
            )?,
            inflight: register(
                registry,
                IntGauge::new(
                    names::INFLIGHT_REQUESTS.name,
                    "Requests decoding: holding at least one inference slot.",
                )?,
            )?,
            busy_slots: register(
                registry,
                IntGauge::new(
                    names::BUSY_SLOTS.name,
                    "Inference slots in use, the extra ones a long request decodes windows on included.",
                )?,
            )?,
            slots: register(
                registry,
                IntGauge::new(names::SLOTS.name, "Configured parallel inference slots.")?,
            )?,
            threads_in_use: register(
                registry,
                IntGauge::new(
                    names::INFERENCE_THREADS.name,
                    "Threads running inference now, across all requests.",
                )?,
            )?,
            thread_budget: register(
                registry,
                IntGauge::new(
                    names::INFERENCE_THREAD_BUDGET.name,
                    "Threads all requests together may run (--threads).",
                )?,
            )?,
            cpu_busy_elsewhere: register(
                registry,
                Gauge::new(
                    names::CPU_BUSY_ELSEWHERE.name,
                    "Host cores other processes kept busy over the last 300 ms; requests then get fewer threads.",
                )?,
            )?,
            inference_duration: register(
                registry,
                Histogram::with_opts(histogram(
                    names::INFERENCE_DURATION.name,
                    "whisper.cpp full() inference.",
                ))?,
            )?,
            parallel_windows: register(
                registry,
                IntCounter::new(
                    names::PARALLEL_WINDOWS.name,
                    "Windows of audio over 30 s (over 15 s with fitted contexts) decoded independently, cut at pauses: on several whisper states at once, or in a row on one thread.",
                )?,
            )?,
            fitted_context: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        names::FITTED_CONTEXT.name,
                        "Short clips first decoded with the audio context fitted to them: kept, or \
                         the reason the result was discarded and the clip decoded again in full.",
                    ),
                    &["outcome"],
                )?,
            )?,
            window_states: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        names::WINDOW_STATES.name,
                        "Whisper states a request decoding long audio gave back between windows \
                         to a waiting request (released), or took on while free (recruited).",
                    ),
                    &["change"],
                )?,
            )?,
            vad_duration: register(
                registry,
                Histogram::with_opts(histogram(
                    names::VAD_DURATION.name,
                    "Voice activity detection over a request's audio (chunking_strategy).",
                ))?,
            )?,
            vad_skipped_audio: register(
                registry,
                Counter::new(
                    names::VAD_SKIPPED_AUDIO.name,
                    "Seconds of audio voice activity detection found no speech in, and so not decoded.",
                )?,
            )?,
        };
        // Every label value from the start, so dashboards show zeros instead of gaps.
        metrics.fitted_context.with_label_values(&["kept"]);
        for reason in Suspicion::ALL {
            metrics.fitted_context.with_label_values(&[reason.label()]);
        }
        for change in StateChange::ALL {
            metrics.window_states.with_label_values(&[change.label()]);
        }
        Ok(metrics)
    }

    pub(super) fn pool_gauges(&self) -> PoolGauges {
        PoolGauges {
            queue_depth: self.queue_depth.clone(),
            inflight: self.inflight.clone(),
            busy_slots: self.busy_slots.clone(),
        }
    }
}
