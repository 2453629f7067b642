//! The cluster under test: any kubeconfig, and how the operator runs against it.

use std::path::{Path, PathBuf};

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{E2eError, Result};

/// Where the operator runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A control plane whose pods are faked by kwok: the operator runs as a local process with
    /// the chart's ServiceAccount token; the chart runs no operator pod.
    Local,
    /// A kind cluster: the operator runs from the chart's image and server pods really serve.
    Kind,
}

impl Mode {
    /// Parses `WHISPER_E2E_MODE` (absent means local).
    pub fn parse(value: Option<&str>) -> Result<Mode> {
        match value {
            None | Some("local") => Ok(Mode::Local),
            Some("kind") => Ok(Mode::Kind),
            Some(other) => Err(E2eError::BadMode(other.to_string())),
        }
    }
}

/// An admin connection to the cluster under test.
pub struct Cluster {
    pub client: Client,
    pub kubeconfig: PathBuf,
    pub mode: Mode,
}

impl Cluster {
    /// Connects with `WHISPER_E2E_KUBECONFIG` in mode `WHISPER_E2E_MODE`.
    pub async fn from_env() -> Result<Cluster> {
        let kubeconfig = std::env::var_os("WHISPER_E2E_KUBECONFIG").ok_or(E2eError::MissingEnv {
            name: "WHISPER_E2E_KUBECONFIG",
            hint: "point it at an admin kubeconfig (e2e/cluster.sh up prints one; e2e/kind/run.sh sets it)",
        })?;
        let mode = Mode::parse(std::env::var("WHISPER_E2E_MODE").ok().as_deref())?;
        let kubeconfig = PathBuf::from(kubeconfig);
        let client = client_for(&kubeconfig).await?;
        Ok(Cluster {
            client,
            kubeconfig,
            mode,
        })
    }
}

/// A client for a kubeconfig file, ignoring the process's own `KUBECONFIG`.
pub async fn client_for(kubeconfig: &Path) -> Result<Client> {
    let path = kubeconfig.display().to_string();
    let parsed = Kubeconfig::read_from(kubeconfig).map_err(|source| E2eError::Kubeconfig {
        path: path.clone(),
        source,
    })?;
    let config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .map_err(|source| E2eError::Kubeconfig { path, source })?;
    Ok(Client::try_from(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_defaults_to_local_and_refuses_unknown_names() {
        assert_eq!(Mode::parse(None).ok(), Some(Mode::Local));
        assert_eq!(Mode::parse(Some("kind")).ok(), Some(Mode::Kind));
        assert!(matches!(Mode::parse(Some("k3s")), Err(E2eError::BadMode(m)) if m == "k3s"));
    }
}
