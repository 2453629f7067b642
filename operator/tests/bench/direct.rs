//! The baseline: the children the operator would build for N WhisperServices, applied straight
//! to the API server by a plain client with the operator's parallelism. What is left between it
//! and the operator is the operator's own cost (its watches, reconciles and status writes).

use futures::{StreamExt, stream};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Service},
};
use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams},
    core::{ApiResource, GroupVersionKind},
};
use serde_json::Value;
use whisper_crds::{WhisperService, WhisperServiceSpec};
use whisper_operator::{
    Config,
    build::{self, Children, Owner},
    validate,
};

const MANAGER: &str = "whisper-operator-bench-direct";

/// The children of service `name` (spec `spec`) in `namespace`, without the owner reference
/// (no WhisperService exists in the baseline, and the garbage collector removes children whose
/// owner is missing).
pub fn children_of(namespace: &str, name: &str, spec: &WhisperServiceSpec) -> Children {
    let mut ws = WhisperService::new(name, spec.clone());
    ws.metadata.namespace = Some(namespace.to_string());
    ws.metadata.uid = Some(format!("bench-direct-{name}"));
    let owner = Owner::of(&ws).expect("owner");
    let config = Config::default();
    let valid = validate::validate(&owner, &ws.spec, &config).expect("valid spec");
    let mut children = build::children(&valid).expect("children");
    children.deployment.metadata.owner_references = None;
    children.service.metadata.owner_references = None;
    if let Some(cm) = children.dashboard.config_map.as_mut() {
        cm.metadata.owner_references = None;
    }
    for json in [&mut children.service_monitor, &mut children.prometheus_rule]
        .into_iter()
        .flatten()
    {
        if let Some(meta) = json.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("ownerReferences");
        }
    }
    children
}

fn monitoring(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("monitoring.coreos.com", "v1", kind))
}

/// Applies every child of every entry of `all`, `parallel` services at a time, each service's
/// children in the operator's order.
pub async fn apply_all(
    client: &Client,
    namespace: &str,
    all: Vec<(String, Children)>,
    parallel: usize,
) {
    let params = PatchParams::apply(MANAGER).force();
    stream::iter(all)
        .for_each_concurrent(parallel, |(name, children)| {
            let params = params.clone();
            async move {
                apply_one(client, namespace, &name, children, &params).await;
            }
        })
        .await;
}

async fn apply_one(
    client: &Client,
    ns: &str,
    name: &str,
    children: Children,
    params: &PatchParams,
) {
    let Children {
        deployment,
        service,
        autoscaler: _,
        disruption_budget: _,
        dashboard,
        service_monitor,
        prometheus_rule,
    } = children;
    let check = |what: &str, result: Result<(), kube::Error>| {
        if let Err(e) = result {
            panic!("apply {what} {name}: {e}")
        }
    };
    let applied = Api::<Deployment>::namespaced(client.clone(), ns)
        .patch(name, params, &Patch::Apply(&deployment))
        .await;
    check("Deployment", applied.map(drop));
    let applied = Api::<Service>::namespaced(client.clone(), ns)
        .patch(name, params, &Patch::Apply(&service))
        .await;
    check("Service", applied.map(drop));
    if let Some(cm) = dashboard.config_map {
        let cm_name = cm.metadata.name.clone().expect("dashboard name");
        let applied = Api::<ConfigMap>::namespaced(client.clone(), ns)
            .patch(&cm_name, params, &Patch::Apply(&cm))
            .await;
        check("ConfigMap", applied.map(drop));
    }
    for (kind, json) in [
        ("ServiceMonitor", service_monitor),
        ("PrometheusRule", prometheus_rule),
    ] {
        if let Some(json) = json {
            let applied =
                Api::<DynamicObject>::namespaced_with(client.clone(), ns, &monitoring(kind))
                    .patch(name, params, &Patch::Apply(&json))
                    .await;
            check(kind, applied.map(drop));
        }
    }
}
