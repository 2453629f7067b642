//! The monitoring assets in this folder, embedded so the operator ships exactly these files, and
//! the pure helpers their tests use: every PromQL expression they hold, and the metric names each
//! one reads.

mod contract;
mod dashboard;
mod error;
mod expressions;
mod prometheus_config;
mod promql;
mod queries;
mod rules;

pub use contract::{
    CONTRACT, Metric, MetricKind, exported_series, is_exported, names, series_in_exposition,
};
pub use dashboard::{DashboardQuery, dashboard_queries};
pub use error::Error;
pub use expressions::{Expression, Origin, all_expressions};
pub use prometheus_config::{TestTargets, rewrite_for_test};
pub use promql::{metric_names, substitute_variables};
pub use queries::{UsefulQuery, useful_queries};
pub use rules::{AlertRule, alert_rules};

/// The Grafana dashboard: the only copy. Compose provisions this file; the operator puts it in a
/// ConfigMap for Grafana's dashboard sidecar.
pub const DASHBOARD_JSON: &str = include_str!("../grafana/dashboards/whisper-dashboard.json");

/// The alert rules (`groups:`): Prometheus loads the file; the operator uses it as a
/// PrometheusRule's spec.
pub const ALERT_RULES_YAML: &str = include_str!("../alert_rules.yml");

/// The local stack's Prometheus configuration.
pub const PROMETHEUS_YML: &str = include_str!("../prometheus.yml");

/// The README's "Useful Prometheus Queries", kept as a file so tests can run each one.
pub const USEFUL_QUERIES_PROMQL: &str = include_str!("../queries.promql");
