//! Installing the Helm chart with helm, as a user would.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::cluster::{Cluster, Mode};
use crate::error::{E2eError, Result};
use crate::paths;
use crate::tool;

/// An installed release. `uninstall` removes it and waits; a release dropped without that (a
/// failed test) is uninstalled without waiting, so its cluster-scoped RBAC does not linger.
pub struct Release {
    pub name: String,
    pub namespace: String,
    kubeconfig: PathBuf,
    uninstalled: bool,
}

/// The chart values the suite installs with, for its mode.
///
/// Local: no operator pod (the suite runs the operator itself with this release's
/// ServiceAccount). Kind: the operator image that `e2e/kind/run.sh` loaded into the nodes.
pub fn values_for(mode: Mode, watch_namespaces: &[&str]) -> Value {
    let mut values = json!({
        "operator": {"watchNamespaces": watch_namespaces, "logFormat": "text"},
    });
    match mode {
        Mode::Local => values["replicas"] = json!(0),
        Mode::Kind => {
            let env = |name: &str, default: &str| {
                std::env::var(name).unwrap_or_else(|_| default.to_string())
            };
            values["image"] = json!({
                "repository": env("WHISPER_E2E_OPERATOR_IMAGE", "ghcr.io/whisper-operator/whisper-operator"),
                "tag": env("WHISPER_E2E_IMAGE_TAG", env!("CARGO_PKG_VERSION")),
                "pullPolicy": "Never",
            });
            values["operator"]["serverImage"] = json!(format!(
                "{}:{}",
                env(
                    "WHISPER_E2E_SERVER_IMAGE",
                    "ghcr.io/whisper-operator/whisper-server"
                ),
                env("WHISPER_E2E_IMAGE_TAG", env!("CARGO_PKG_VERSION"))
            ));
        }
    }
    values
}

/// `helm install NAME charts/whisper-operator -n NAMESPACE -f VALUES --wait`.
pub async fn install(
    cluster: &Cluster,
    name: &str,
    namespace: &str,
    values: &Value,
) -> Result<Release> {
    let mut file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .map_err(|source| io("creating a values file", source))?;
    let yaml = serde_yaml::to_string(values).map_err(|source| E2eError::Yaml {
        what: "writing chart values".into(),
        source,
    })?;
    file.write_all(yaml.as_bytes())
        .map_err(|source| io("writing a values file", source))?;
    let chart = paths::chart_dir();
    tool::run(
        &paths::tool("helm"),
        &cluster.kubeconfig,
        [
            "install".as_ref(),
            name.as_ref(),
            chart.as_os_str(),
            "--namespace".as_ref(),
            namespace.as_ref(),
            "--values".as_ref(),
            file.path().as_os_str(),
            "--wait".as_ref(),
            "--timeout".as_ref(),
            "4m".as_ref(),
        ],
    )
    .await?;
    Ok(Release {
        name: name.to_string(),
        namespace: namespace.to_string(),
        kubeconfig: cluster.kubeconfig.clone(),
        uninstalled: false,
    })
}

impl Release {
    /// The chart's object name prefix for this release (its `fullname` template).
    pub fn fullname(&self) -> String {
        if self.name.contains("whisper-operator") {
            self.name.clone()
        } else {
            format!("{}-whisper-operator", self.name)
        }
    }

    /// `helm uninstall`, waiting until its objects are gone.
    pub async fn uninstall(mut self, cluster: &Cluster) -> Result<()> {
        let args = [
            "uninstall",
            &self.name,
            "--namespace",
            &self.namespace,
            "--wait",
        ];
        tool::run(&paths::tool("helm"), &cluster.kubeconfig, args).await?;
        self.uninstalled = true;
        Ok(())
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if !self.uninstalled {
            // Drop cannot be async; a blocking helm call is fine at the end of a failed test.
            let _ = std::process::Command::new(paths::tool("helm"))
                .env("KUBECONFIG", &self.kubeconfig)
                .args(["uninstall", &self.name, "--namespace", &self.namespace])
                .output();
        }
    }
}

fn io(what: &str, source: std::io::Error) -> E2eError {
    E2eError::Io {
        what: what.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_mode_runs_no_operator_pod_and_limits_namespaces() {
        let values = values_for(Mode::Local, &["team-a"]);
        assert_eq!(values["replicas"], 0);
        assert_eq!(values["operator"]["watchNamespaces"], json!(["team-a"]));
    }

    #[test]
    fn kind_mode_uses_the_loaded_image_without_pulling() {
        let values = values_for(Mode::Kind, &[]);
        assert_eq!(values["image"]["pullPolicy"], "Never");
        assert!(values.get("replicas").is_none());
    }
}
