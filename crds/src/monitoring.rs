//! Monitoring children: ServiceMonitor, PrometheusRule and the Grafana dashboard ConfigMap.

use std::collections::BTreeMap;

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// What monitoring objects the operator creates for this service.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Prometheus Operator ServiceMonitor scraping /metrics.
    #[serde(default)]
    pub service_monitor: ServiceMonitorSpec,
    /// Grafana dashboard ConfigMap for Grafana's sidecar.
    #[serde(default)]
    pub dashboard: DashboardSpec,
    /// Prometheus Operator PrometheusRule with the project's alert rules.
    #[serde(default)]
    pub alerts: AlertsSpec,
}

/// ServiceMonitor settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// Create a ServiceMonitor (when the cluster serves monitoring.coreos.com/v1).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Scrape interval, a Prometheus duration such as 5s or 1m.
    #[serde(default = "default_interval")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    pub interval: String,
    /// Labels the Prometheus serviceMonitorSelector matches.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Dashboard ConfigMap settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DashboardSpec {
    /// Create the dashboard ConfigMap.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Namespace of the ConfigMap (where Grafana's sidecar looks); defaults to the
    /// WhisperService's own. Another namespace is cleaned up by a finalizer on delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(max = 63))]
    pub namespace: Option<String>,
    /// Labels Grafana's sidecar selects dashboards by.
    #[serde(default = "default_dashboard_labels")]
    pub labels: BTreeMap<String, String>,
}

/// PrometheusRule settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AlertsSpec {
    /// Create a PrometheusRule (when the cluster serves monitoring.coreos.com/v1).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Labels the Prometheus ruleSelector matches.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Default for ServiceMonitorSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_interval(),
            labels: BTreeMap::new(),
        }
    }
}

impl Default for DashboardSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            namespace: None,
            labels: default_dashboard_labels(),
        }
    }
}

impl Default for AlertsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            labels: BTreeMap::new(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_interval() -> String {
    "5s".to_string()
}
fn default_dashboard_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("grafana_dashboard".to_string(), "1".to_string())])
}
