//! Waiting for a WhisperService's Deployment to finish a change: a new generation observed,
//! every replica updated and available, and the old pods gone (not just terminating), so that a
//! load measured until then covers the whole of the change.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::cluster::Cluster;
use crate::error::Result;
use crate::wait::{self, Check};

/// The Deployment's generation now: what [`finished_after`] waits to see passed.
pub async fn generation(cluster: &Cluster, namespace: &str, name: &str) -> Result<i64> {
    let d = Api::<Deployment>::namespaced(cluster.client.clone(), namespace)
        .get(name)
        .await?;
    Ok(d.metadata.generation.unwrap_or(0))
}

/// Waits until the Deployment has a generation after `before`, has rolled it out, and only its
/// `replicas` current pods remain.
pub async fn finished_after(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    before: i64,
    timeout: Duration,
) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let selector = format!("whisper-operator.io/service={name}");
    wait::until(
        &format!("Deployment {name} to roll out a change"),
        timeout,
        || async {
            let d = deployments.get(name).await?;
            let generation = d.metadata.generation.unwrap_or(0);
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let status = d.status.clone().unwrap_or_default();
            let pods = pods.list(&ListParams::default().labels(&selector)).await?;
            let done = generation > before
                && status.observed_generation == Some(generation)
                && status.updated_replicas == Some(want)
                && status.available_replicas == Some(want)
                && status.replicas == Some(want)
                && pods.items.len() == want as usize;
            Ok(if done {
                Check::Done(())
            } else {
                Check::NotYet(format!(
                    "generation {generation} (before {before}), status {status:?}, {} pods",
                    pods.items.len()
                ))
            })
        },
    )
    .await
}

/// Waits until `replicas` pods of the service are ready and no other pod of it exists.
pub async fn settled(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    replicas: usize,
    timeout: Duration,
) -> Result<Vec<Pod>> {
    pods_until(
        cluster,
        namespace,
        name,
        &format!("{replicas} ready pods of {name} and no others"),
        timeout,
        |ready, all| ready == replicas && all == replicas,
    )
    .await
}

/// Waits until at least `replicas` pods of the service are ready, whatever else exists.
pub async fn ready_at_least(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    replicas: usize,
    timeout: Duration,
) -> Result<Vec<Pod>> {
    pods_until(
        cluster,
        namespace,
        name,
        &format!("{replicas} ready pods of {name}"),
        timeout,
        |ready, _| ready >= replicas,
    )
    .await
}

/// Waits until `done(ready pods, all pods)` of the service holds; returns the pods.
async fn pods_until(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    what: &str,
    timeout: Duration,
    done: impl Fn(usize, usize) -> bool,
) -> Result<Vec<Pod>> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let selector = format!("whisper-operator.io/service={name}");
    wait::until(what, timeout, || async {
        let list = pods.list(&ListParams::default().labels(&selector)).await?;
        let ready = list.items.iter().filter(|p| is_ready(p)).count();
        Ok(if done(ready, list.items.len()) {
            Check::Done(list.items)
        } else {
            Check::NotYet(format!("{ready} ready of {} pods", list.items.len()))
        })
    })
    .await
}

/// Ready, and not on its way out.
pub fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
