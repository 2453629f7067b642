//! A fresh namespace per test that enforces the `restricted` Pod Security Standard, so any pod
//! the chart or the operator creates that breaks it is refused at admission.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::cluster::Cluster;
use crate::error::Result;
use crate::paths;

/// A namespace that is deleted (without waiting) when dropped, even if the test panicked.
pub struct TestNamespace {
    pub name: String,
    kubeconfig: PathBuf,
}

impl TestNamespace {
    /// Creates `PREFIX-<unique suffix>` labelled to enforce `restricted`.
    pub async fn create(cluster: &Cluster, prefix: &str) -> Result<TestNamespace> {
        let name = unique_name(prefix);
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(restricted_labels()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(cluster.client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        Ok(TestNamespace {
            name,
            kubeconfig: cluster.kubeconfig.clone(),
        })
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot be async; kubectl is the simplest synchronous client at hand.
        let _ = std::process::Command::new(paths::tool("kubectl"))
            .env("KUBECONFIG", &self.kubeconfig)
            .args([
                "delete",
                "namespace",
                &self.name,
                "--wait=false",
                "--ignore-not-found",
            ])
            .output();
    }
}

/// Pod Security admission labels: enforce (refuse), and warn/audit so kubectl shows why.
pub fn restricted_labels() -> BTreeMap<String, String> {
    ["enforce", "warn", "audit"]
        .into_iter()
        .flat_map(|mode| {
            [
                (
                    format!("pod-security.kubernetes.io/{mode}"),
                    "restricted".to_string(),
                ),
                (
                    format!("pod-security.kubernetes.io/{mode}-version"),
                    "latest".to_string(),
                ),
            ]
        })
        .collect()
}

/// `prefix-<6 hex digits>`, unique enough for concurrent tests on one cluster.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or_default();
    format!("{prefix}-{:06x}", (nanos ^ std::process::id()) & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_labels_enforce_restricted() {
        let labels = restricted_labels();
        assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert_eq!(labels.len(), 6);
    }

    #[test]
    fn unique_names_are_dns_labels() {
        let name = unique_name("ws-e2e");
        assert!(name.len() <= 63 && name.starts_with("ws-e2e-"));
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
