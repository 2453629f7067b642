//! Whether the cluster serves the optional kinds the operator can create (the Prometheus
//! Operator's ServiceMonitor and PrometheusRule, KEDA's ScaledObject), asked at most once per TTL
//! so the operator notices CRDs installed after it started.

use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIGroupList;
use kube::{Client, core::ApiResource};
use tokio::sync::Mutex;

use crate::error::{Error, Result};

/// The two monitoring kinds, as served by this cluster.
#[derive(Clone, Debug)]
pub struct MonitoringKinds {
    pub service_monitor: ApiResource,
    pub prometheus_rule: ApiResource,
}

/// What one discovery pass found.
#[derive(Clone, Debug, Default)]
struct Served {
    /// ServiceMonitor and PrometheusRule, both or neither.
    monitoring: Option<MonitoringKinds>,
    scaled_object: Option<ApiResource>,
}

/// A cached discovery of the optional kinds.
pub struct Discovery {
    client: Client,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Served)>>,
}

impl Discovery {
    pub fn new(client: Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// ServiceMonitor and PrometheusRule if both are served, `None` if either is missing.
    pub async fn monitoring(&self) -> Result<Option<MonitoringKinds>> {
        Ok(self.served().await?.monitoring)
    }

    /// KEDA's ScaledObject, if served.
    pub async fn scaled_object(&self) -> Result<Option<ApiResource>> {
        Ok(self.served().await?.scaled_object)
    }

    async fn served(&self) -> Result<Served> {
        let mut cached = self.cached.lock().await;
        if let Some((at, served)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(served.clone());
        }
        let served = self.discover().await?;
        *cached = Some((Instant::now(), served.clone()));
        Ok(served)
    }

    /// One list of the API groups, then the resources of each optional group that is served.
    async fn discover(&self) -> Result<Served> {
        let groups = self
            .client
            .list_api_groups()
            .await
            .map_err(Error::Discovery)?;
        let monitoring = self
            .kinds(
                &groups,
                "monitoring.coreos.com",
                "v1",
                ["ServiceMonitor", "PrometheusRule"],
            )
            .await?
            .map(|[service_monitor, prometheus_rule]| MonitoringKinds {
                service_monitor,
                prometheus_rule,
            });
        let scaled_object = self
            .kinds(&groups, "keda.sh", "v1alpha1", ["ScaledObject"])
            .await?
            .map(|[scaled_object]| scaled_object);
        Ok(Served {
            monitoring,
            scaled_object,
        })
    }

    /// One resource for each of `kinds`, in that order, or `None` if any is not served.
    async fn kinds<const N: usize>(
        &self,
        groups: &APIGroupList,
        group: &str,
        version: &str,
        kinds: [&str; N],
    ) -> Result<Option<[ApiResource; N]>> {
        let served = groups
            .groups
            .iter()
            .any(|g| g.name == group && g.versions.iter().any(|v| v.version == version));
        if !served {
            return Ok(None);
        }
        let api_version = format!("{group}/{version}");
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
                    group: group.to_string(),
                    version: version.to_string(),
                    api_version: api_version.clone(),
                    kind: kind.to_string(),
                    plural: r.name.clone(),
                })
        };
        let found: Option<Vec<ApiResource>> = kinds.iter().map(|kind| find(kind)).collect();
        // A Vec of exactly N (one per kind) always converts.
        Ok(found.and_then(|found| found.try_into().ok()))
    }
}
