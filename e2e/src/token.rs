//! A kubeconfig that authenticates as a ServiceAccount, so the local operator has exactly the
//! permissions the chart's RBAC grants it and missing RBAC fails the test.

use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;
use kube::config::Kubeconfig;
use serde_json::json;

use crate::cluster::Cluster;
use crate::error::{E2eError, Result};

/// Requests a one-hour token for `namespace/service_account` (the TokenRequest API, as
/// `kubectl create token` does).
pub async fn request_token(
    cluster: &Cluster,
    namespace: &str,
    service_account: &str,
) -> Result<String> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let issued = Api::<ServiceAccount>::namespaced(cluster.client.clone(), namespace)
        .create_token_request(service_account, &PostParams::default(), &request)
        .await?;
    issued.status.map(|s| s.token).ok_or_else(|| {
        E2eError::Unexpected(format!(
            "TokenRequest for {namespace}/{service_account} has no status"
        ))
    })
}

/// Writes `dir/NAME.kubeconfig`: the admin kubeconfig's current cluster with `token` as the user.
pub fn write_token_kubeconfig(
    admin: &Path,
    token: &str,
    dir: &Path,
    name: &str,
) -> Result<PathBuf> {
    let config = Kubeconfig::read_from(admin).map_err(|source| E2eError::Kubeconfig {
        path: admin.display().to_string(),
        source,
    })?;
    let yaml = token_kubeconfig_yaml(&config, token, name)?;
    let path = dir.join(format!("{name}.kubeconfig"));
    std::fs::write(&path, yaml).map_err(|source| E2eError::Io {
        what: format!("writing {}", path.display()),
        source,
    })?;
    Ok(path)
}

/// The kubeconfig text (pure, so it is unit-tested).
pub fn token_kubeconfig_yaml(admin: &Kubeconfig, token: &str, name: &str) -> Result<String> {
    let context_name = admin
        .current_context
        .as_deref()
        .ok_or_else(|| E2eError::Unexpected("admin kubeconfig has no current-context".into()))?;
    let cluster_name = admin
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .ok_or_else(|| E2eError::Unexpected(format!("context {context_name} not found")))?;
    let cluster = admin
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| E2eError::Unexpected(format!("cluster {cluster_name} not found")))?;
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": cluster_name, "user": name}}],
        "current-context": name,
    });
    serde_yaml::to_string(&config).map_err(|source| E2eError::Yaml {
        what: "writing a token kubeconfig".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Q0E=
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts:
- name: admin@local
  context: {cluster: local, user: admin}
current-context: admin@local
"#;

    #[test]
    fn token_kubeconfig_keeps_the_cluster_and_drops_admin_credentials() {
        let admin = Kubeconfig::from_yaml(ADMIN).expect("fixture parses");
        let yaml = token_kubeconfig_yaml(&admin, "tok123", "operator").expect("renders");
        let parsed = Kubeconfig::from_yaml(&yaml).expect("output parses");
        assert_eq!(parsed.current_context.as_deref(), Some("operator"));
        let cluster = parsed.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Q0E="));
        assert!(yaml.contains("tok123"));
        assert!(
            !yaml.contains("client-key-data"),
            "admin key must not leak: {yaml}"
        );
    }

    #[test]
    fn kubeconfig_without_current_context_is_refused() {
        let admin = Kubeconfig::from_yaml("apiVersion: v1\nkind: Config\n").expect("parses");
        assert!(token_kubeconfig_yaml(&admin, "t", "op").is_err());
    }
}
