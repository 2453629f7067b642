//! Shared helpers of the cluster suites: a client for the test cluster, the CRD, a namespace per
//! test that is removed afterwards, the in-process operator, and polling.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::{future::Future, panic::AssertUnwindSafe, time::Duration};

use futures::FutureExt;
use k8s_openapi::{
    api::core::v1::Namespace,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, CustomResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::wait::{await_condition, conditions},
};
use serde_json::json;
use whisper_crds::WhisperService;

pub const ENV: &str = "WHISPER_E2E_KUBECONFIG";

/// A client for the cluster named by WHISPER_E2E_KUBECONFIG; panics with the fix when unset.
pub async fn client() -> Client {
    let path = std::env::var(ENV).unwrap_or_else(|_| {
        panic!("{ENV} is not set: start a cluster with `e2e/cluster.sh up` and export {ENV}=<the kubeconfig path it prints> (or run `make test-cluster`)")
    });
    let kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("cannot read kubeconfig {path}: {e}"));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("bad kubeconfig {path}: {e}"));
    Client::try_from(config).expect("client from kubeconfig")
}

/// Installs (server-side apply) the CRD generated from the Rust types and waits until served.
pub async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = WhisperService::crd();
    let name = crd.metadata.name.clone().expect("crd name");
    crds.patch(
        &name,
        &PatchParams::apply("whisper-operator-tests").force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("apply CRD");
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .expect("CRD established within 30 s")
    .expect("watch CRD");
}

/// Creates a namespace labelled for the `restricted` Pod Security Standard.
pub async fn create_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": { "pod-security.kubernetes.io/enforce": "restricted", "whisper-operator-test": "true" },
        }
    }))
    .expect("namespace object");
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

/// Deletes a namespace (and, through it, everything in it).
pub async fn delete_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::background()).await;
}

/// Runs `body` with fresh namespaces named `<prefix>-<random>` (one per entry of `prefixes`),
/// then deletes them, also when the body panics.
pub async fn with_namespaces<F, Fut>(prefixes: &[&str], body: F)
where
    F: FnOnce(Client, Vec<String>) -> Fut,
    Fut: Future<Output = ()>,
{
    let client = client().await;
    install_crd(&client).await;
    let suffix = format!("{:x}", std::process::id() ^ (rand_u32() & 0xfffff));
    let names: Vec<String> = prefixes.iter().map(|p| format!("{p}-{suffix}")).collect();
    for n in &names {
        create_namespace(&client, n).await;
    }
    let outcome = AssertUnwindSafe(body(client.clone(), names.clone()))
        .catch_unwind()
        .await;
    for n in &names {
        delete_namespace(&client, n).await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish() as u32
}

/// Starts the operator in-process, limited to `namespaces`.
pub fn start_operator(client: &Client, namespaces: &[String]) -> tokio::task::JoinHandle<()> {
    start_operator_counted(
        client,
        namespaces,
        whisper_operator::metrics::Metrics::new().expect("metrics"),
    )
}

/// Starts the operator in-process, counting into `metrics` (which the test can read).
pub fn start_operator_counted(
    client: &Client,
    namespaces: &[String],
    metrics: whisper_operator::metrics::Metrics,
) -> tokio::task::JoinHandle<()> {
    let config = whisper_operator::Config {
        namespaces: namespaces.to_vec(),
        discovery_ttl: Duration::from_secs(2),
        ..whisper_operator::Config::default()
    };
    tokio::spawn(whisper_operator::run_controller_until(
        client.clone(),
        config,
        Some(metrics),
        std::future::pending(),
    ))
}

/// Polls `check` every 250 ms until it returns `Some`, or panics after `secs` with `what`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs} s waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Creates a WhisperService from a YAML spec.
pub async fn create_service(
    client: &Client,
    ns: &str,
    name: &str,
    spec_yaml: &str,
) -> WhisperService {
    let spec = serde_yaml::from_str(spec_yaml).expect("spec yaml");
    let api: Api<WhisperService> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &WhisperService::new(name, spec))
        .await
        .expect("create WhisperService")
}

/// The condition `type_` of the service as (status, reason, message), if present.
pub async fn condition(
    client: &Client,
    ns: &str,
    name: &str,
    type_: &str,
) -> Option<(String, String, String)> {
    let api: Api<WhisperService> = Api::namespaced(client.clone(), ns);
    let ws = api.get_opt(name).await.ok()??;
    let c = ws
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status, c.reason, c.message))
}

/// Waits until the condition has `status` and `reason`; returns its message.
pub async fn wait_condition(
    client: &Client,
    ns: &str,
    name: &str,
    type_: &str,
    status: &str,
    reason: &str,
    secs: u64,
) -> String {
    let what = format!("{ns}/{name} condition {type_}={status} ({reason})");
    eventually(secs, &what, || async {
        condition(client, ns, name, type_)
            .await
            .filter(|(s, r, _)| s == status && r == reason)
            .map(|(_, _, m)| m)
    })
    .await
}
