//! The baseline: the children the operator would build for N WhisperServices, applied straight
//! to the API server by a plain client with the operator's parallelism. What is left between it
//! and the operator is the operator's own cost (its watches, reconciles and status writes).

use std::fmt::Debug;

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
use serde::{Serialize, de::DeserializeOwned};
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

/// One service's children, with the namespace and name they go under.
pub struct ServiceChildren {
    pub namespace: String,
    pub name: String,
    pub children: Children,
}

/// Applies every child of every entry of `all`, `parallel` services at a time, each service's
/// children concurrently as the operator does (ServiceMonitor, then PrometheusRule).
pub async fn apply_all(client: &Client, all: Vec<ServiceChildren>, parallel: usize) {
    let params = PatchParams::apply(MANAGER).force();
    stream::iter(all)
        .for_each_concurrent(parallel, |one| {
            let params = params.clone();
            async move {
                apply_one(client, &one.namespace, &one.name, one.children, &params).await;
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
    let config_map = async {
        if let Some(cm) = &dashboard.config_map {
            let cm_name = cm.metadata.name.as_deref().expect("dashboard name");
            let api = Api::<ConfigMap>::namespaced(client.clone(), ns);
            put("ConfigMap", api, cm_name, params, cm).await;
        }
    };
    let monitors = async {
        for (kind, json) in [
            ("ServiceMonitor", service_monitor),
            ("PrometheusRule", prometheus_rule),
        ] {
            if let Some(json) = json {
                let api =
                    Api::<DynamicObject>::namespaced_with(client.clone(), ns, &monitoring(kind));
                put(kind, api, name, params, &json).await;
            }
        }
    };
    futures::join!(
        put(
            "Deployment",
            Api::<Deployment>::namespaced(client.clone(), ns),
            name,
            params,
            &deployment
        ),
        put(
            "Service",
            Api::<Service>::namespaced(client.clone(), ns),
            name,
            params,
            &service
        ),
        config_map,
        monitors,
    );
}

/// Server-side applies `obj`, a `kind` named `name`; panics if that fails.
async fn put<K, P>(kind: &str, api: Api<K>, name: &str, params: &PatchParams, obj: &P)
where
    K: Clone + DeserializeOwned + Debug,
    P: Serialize + Debug,
{
    if let Err(e) = api.patch(name, params, &Patch::Apply(obj)).await {
        panic!("apply {kind} {name}: {e}");
    }
}
