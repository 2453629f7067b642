//! Horizontal autoscaling: bounds, the signal it follows and how fast it scales down.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Scales this WhisperService through its scale subresource, on CPU (a HorizontalPodAutoscaler
/// fed by metrics-server) or on requests in flight (a KEDA ScaledObject reading Prometheus).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self.maxReplicas >= self.minReplicas").message("spec.autoscaling.maxReplicas must be at least spec.autoscaling.minReplicas"))]
#[x_kube(validation = Rule::new("!has(self.signal) || self.signal != 'InFlight' || has(self.prometheusAddress)").message("spec.autoscaling.signal InFlight needs spec.autoscaling.prometheusAddress, the Prometheus that scrapes this service's pods"))]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingSpec {
    /// Fewest replicas.
    #[serde(default = "default_min")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,
    /// Most replicas.
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    /// What the replica count follows. Cpu (the default) needs metrics-server; InFlight needs
    /// KEDA and a Prometheus that scrapes the pods, and falls back to Cpu while the cluster does
    /// not serve KEDA's ScaledObject.
    #[serde(default)]
    pub signal: AutoscalingSignal,
    /// Average CPU utilisation (percent of the requested CPUs) aimed for with signal Cpu.
    #[serde(default = "default_target")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percent: i32,
    /// Requests per replica, queued or being transcribed, aimed for with signal InFlight.
    #[serde(default = "default_in_flight")]
    #[schemars(range(min = 1, max = 1000))]
    pub target_in_flight_per_replica: i32,
    /// Base URL of the Prometheus that scrapes this service's pods (through its ServiceMonitor),
    /// for example http://prometheus.monitoring.svc:9090. Needed by signal InFlight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = r"^https?://"))]
    pub prometheus_address: Option<String>,
    /// Seconds the replica count must have been too high before it is lowered (Kubernetes'
    /// default is 300). Short windows follow bursty traffic down quickly, and up again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub scale_down_stabilization_seconds: Option<i32>,
}

/// The load signal autoscaling follows.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoscalingSignal {
    /// Average CPU utilisation of the pods. Slow to react, and a poor signal for a server whose
    /// threads spin at barriers while they wait.
    #[default]
    Cpu,
    /// Requests queued or being transcribed per replica (`whisper_queue_depth` plus
    /// `whisper_inflight_requests`), the signal inference servers scale on.
    InFlight,
}

fn default_min() -> i32 {
    1
}
fn default_target() -> i32 {
    80
}
fn default_in_flight() -> i32 {
    2
}
