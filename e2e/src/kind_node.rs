//! What the kind suites do on a node and around pods: a kind node is a Docker container named
//! after the node, so `docker exec` reaches its kubelet's world (crictl, files, static pods).

use std::path::Path;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;

use crate::cluster::Cluster;
use crate::error::Result;
use crate::{paths, tool};

/// `sh -c SCRIPT` on a kind node.
pub async fn docker_exec(node: &str, script: &str) -> Result<String> {
    tool::run_local(Path::new("docker"), ["exec", node, "sh", "-c", script]).await
}

/// `kubectl ARGS...` against the cluster, as a user would run it.
pub async fn kubectl(cluster: &Cluster, args: &[&str]) -> Result<String> {
    tool::run(&paths::tool("kubectl"), &cluster.kubeconfig, args).await
}

/// The node a scheduled pod runs on.
pub fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .expect("a scheduled pod")
}

/// The logs of one container of a pod.
pub async fn container_logs(
    cluster: &Cluster,
    namespace: &str,
    pod: &Pod,
    container: &str,
) -> Result<String> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    kubectl(cluster, &["logs", "-n", namespace, name, "-c", container]).await
}

/// The name of the first node matching a label selector (for kind:
/// `node-role.kubernetes.io/control-plane`, or its negation for a worker).
pub async fn node_named_by(cluster: &Cluster, selector: &str) -> String {
    Api::<Node>::all(cluster.client.clone())
        .list(&ListParams::default().labels(selector))
        .await
        .expect("list nodes")
        .items
        .first()
        .and_then(|n| n.metadata.name.clone())
        .unwrap_or_else(|| panic!("no node matches {selector}"))
}
