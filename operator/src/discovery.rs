//! Whether the cluster serves the Prometheus Operator kinds, asked at most once per TTL so the
//! operator notices CRDs installed after it started.

use std::time::{Duration, Instant};

use kube::{Client, core::ApiResource};
use tokio::sync::Mutex;

use crate::error::{Error, Result};

const GROUP: &str = "monitoring.coreos.com";
const VERSION: &str = "v1";

/// The two optional kinds, as served by this cluster.
#[derive(Clone, Debug)]
pub struct MonitoringKinds {
    pub service_monitor: ApiResource,
    pub prometheus_rule: ApiResource,
}

/// A cached discovery of the monitoring kinds.
pub struct MonitoringDiscovery {
    client: Client,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Option<MonitoringKinds>)>>,
}

impl MonitoringDiscovery {
    pub fn new(client: Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The kinds if both are served, `None` if either is missing.
    pub async fn kinds(&self) -> Result<Option<MonitoringKinds>> {
        let mut cached = self.cached.lock().await;
        if let Some((at, kinds)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(kinds.clone());
        }
        let kinds = self.discover().await?;
        *cached = Some((Instant::now(), kinds.clone()));
        Ok(kinds)
    }

    async fn discover(&self) -> Result<Option<MonitoringKinds>> {
        let groups = self
            .client
            .list_api_groups()
            .await
            .map_err(Error::Discovery)?;
        let served = groups
            .groups
            .iter()
            .any(|g| g.name == GROUP && g.versions.iter().any(|v| v.version == VERSION));
        if !served {
            return Ok(None);
        }
        let api_version = format!("{GROUP}/{VERSION}");
        let resources = self
            .client
            .list_api_group_resources(&api_version)
            .await
            .map_err(Error::Discovery)?;
        let find = |kind: &str| {
            resources
                .resources
                .iter()
                .find(|r| r.kind == kind && !r.name.contains('/'))
                .map(|r| ApiResource {
                    group: GROUP.to_string(),
                    version: VERSION.to_string(),
                    api_version: api_version.clone(),
                    kind: kind.to_string(),
                    plural: r.name.clone(),
                })
        };
        Ok(find("ServiceMonitor").zip(find("PrometheusRule")).map(
            |(service_monitor, prometheus_rule)| MonitoringKinds {
                service_monitor,
                prometheus_rule,
            },
        ))
    }
}
