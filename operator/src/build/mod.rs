//! Stage 2 of a reconcile: from the validated spec, every child object the WhisperService
//! wants, as one [`Children`] value. Pure: one function per child, no API calls, so the whole
//! desired state is tested as a table (`build/tests.rs`) without a cluster.

mod dashboard;
mod deployment;
mod disruption_budget;
mod hpa;
mod prometheus_rule;
mod scaled_object;
mod service;
mod service_monitor;

pub use dashboard::{Dashboard, FINALIZER as DASHBOARD_FINALIZER, copies_selector, dashboard};
pub use deployment::{FETCH_MODEL_CONTAINER, SERVER_CONTAINER, deployment};
pub use disruption_budget::disruption_budget;
pub use hpa::hpa;
pub use prometheus_rule::prometheus_rule;
pub use scaled_object::{in_flight_query, scaled_object};
pub use service::service;
pub use service_monitor::service_monitor;

use k8s_openapi::{
    api::{
        apps::v1::Deployment, autoscaling::v2::HorizontalPodAutoscaler, core::v1::Service,
        policy::v1::PodDisruptionBudget,
    },
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use kube::{Resource, ResourceExt};
use serde_json::Value;
use whisper_crds::{AutoscalingSignal, AutoscalingSpec, WhisperService};

use crate::{
    error::{Error, Result},
    labels,
    validate::Valid,
};

/// Every child of one WhisperService as it should be. `apply` takes this apart field by field
/// (no `..`), so a child added here and never applied does not compile. `None` means the child
/// is not wanted and is removed if it exists.
#[derive(Clone, Debug, PartialEq)]
pub struct Children {
    pub deployment: Deployment,
    pub service: Service,
    pub autoscaler: Option<Autoscaler>,
    pub disruption_budget: Option<PodDisruptionBudget>,
    pub dashboard: Dashboard,
    /// monitoring.coreos.com/v1 objects, as JSON: their CRDs may not be installed.
    pub service_monitor: Option<Value>,
    pub prometheus_rule: Option<Value>,
}

/// Builds every child of `valid`.
pub fn children(valid: &Valid) -> Result<Children> {
    let Valid {
        owner,
        spec,
        resolved,
    } = valid;
    let monitoring = &spec.monitoring;
    Ok(Children {
        deployment: deployment(owner, spec, resolved),
        service: service(owner, spec),
        autoscaler: spec.autoscaling.as_ref().map(|a| autoscaler(owner, a)),
        disruption_budget: disruption_budget(owner, spec.replicas),
        dashboard: dashboard(
            owner,
            &monitoring.dashboard,
            whisper_monitoring::DASHBOARD_JSON,
        ),
        service_monitor: monitoring
            .service_monitor
            .enabled
            .then(|| service_monitor(owner, &monitoring.service_monitor)),
        prometheus_rule: monitoring
            .alerts
            .enabled
            .then(|| {
                prometheus_rule(
                    owner,
                    &monitoring.alerts,
                    whisper_monitoring::ALERT_RULES_YAML,
                )
            })
            .transpose()?,
    })
}

/// What scales the service: the CPU HPA, and for signal InFlight the KEDA ScaledObject that
/// takes its place where the cluster serves KEDA (`apply` finds out which).
#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaler {
    pub cpu: HorizontalPodAutoscaler,
    /// keda.sh/v1alpha1 ScaledObject, as JSON: KEDA's CRDs may not be installed.
    pub in_flight: Option<Value>,
}

fn autoscaler(owner: &Owner, autoscaling: &AutoscalingSpec) -> Autoscaler {
    Autoscaler {
        cpu: hpa(owner, autoscaling),
        in_flight: match autoscaling.signal {
            AutoscalingSignal::Cpu => None,
            AutoscalingSignal::InFlight => scaled_object(owner, autoscaling),
        },
    }
}

/// Name, namespace and owner reference every same-namespace child shares.
#[derive(Clone, Debug)]
pub struct Owner {
    pub name: String,
    pub namespace: String,
    pub owner_ref: OwnerReference,
}

impl Owner {
    /// Reads what the builders need from the object's metadata.
    pub fn of(ws: &WhisperService) -> Result<Self> {
        let namespace = ws
            .namespace()
            .ok_or(Error::MissingField("metadata.namespace"))?;
        let owner_ref = ws
            .controller_owner_ref(&())
            .ok_or(Error::MissingField("metadata.uid"))?;
        Ok(Self {
            name: ws.name_any(),
            namespace,
            owner_ref,
        })
    }

    /// Metadata of a child named `name` in the owner's namespace, owned by it.
    pub fn child_meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels::common_labels(&self.name)),
            owner_references: Some(vec![self.owner_ref.clone()]),
            ..ObjectMeta::default()
        }
    }
}

#[cfg(test)]
mod tests;
