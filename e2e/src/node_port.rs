//! Reaching a WhisperService the way traffic from outside a cluster does: a NodePort Service
//! beside the operator's ClusterIP one, with the same selector and port, and the address of a
//! node. kube-proxy then routes each connection to a ready endpoint, so a load sent there sees
//! what a client of the Service sees when pods come and go (a port-forward would pin one pod).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Service, ServicePort, ServiceSpec};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::cluster::Cluster;
use crate::error::{E2eError, Result};
use crate::wait::{self, Check};

/// Creates `NAME-nodeport` selecting what the Service `name` selects; returns its URL on the
/// first node's InternalIP.
pub async fn expose(cluster: &Cluster, namespace: &str, name: &str) -> Result<String> {
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), namespace);
    let spec = services
        .get(name)
        .await?
        .spec
        .ok_or_else(|| E2eError::Unexpected(format!("Service {name} has no spec")))?;
    let port = spec
        .ports
        .as_ref()
        .and_then(|p| p.first())
        .cloned()
        .ok_or_else(|| E2eError::Unexpected(format!("Service {name} has no port")))?;
    let node_port = Service {
        metadata: ObjectMeta {
            name: Some(format!("{name}-nodeport")),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("NodePort".to_string()),
            selector: spec.selector.clone(),
            ports: Some(vec![ServicePort {
                node_port: None,
                ..port
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    };
    let created = services.create(&PostParams::default(), &node_port).await?;
    let assigned = created
        .spec
        .and_then(|s| s.ports)
        .and_then(|p| p.first().and_then(|p| p.node_port))
        .ok_or_else(|| E2eError::Unexpected("no nodePort assigned".into()))?;
    let url = format!("http://{}:{assigned}", node_address(cluster).await?);
    // kube-proxy programs the port a moment after the Service exists.
    wait::until(
        &format!("{url}/readyz to answer through the NodePort"),
        Duration::from_secs(60),
        || async {
            Ok(match reqwest::get(format!("{url}/readyz")).await {
                Ok(r) if r.status().is_success() => Check::Done(()),
                Ok(r) => Check::NotYet(format!("HTTP {}", r.status())),
                Err(e) => Check::NotYet(e.to_string()),
            })
        },
    )
    .await?;
    Ok(url)
}

/// The InternalIP of the first node (a kind node's container address, reachable from the host).
async fn node_address(cluster: &Cluster) -> Result<String> {
    let nodes = Api::<Node>::all(cluster.client.clone())
        .list(&Default::default())
        .await?;
    nodes
        .items
        .iter()
        .flat_map(|n| n.status.iter().flat_map(|s| s.addresses.iter().flatten()))
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
        .ok_or_else(|| E2eError::Unexpected("no node has an InternalIP".into()))
}
