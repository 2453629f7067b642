//! The operator as a local process (local mode): same settings as the chart's Deployment, but
//! authenticated with the chart's ServiceAccount token instead of running in a pod, because
//! kwok's pods run no containers.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

use crate::chart::Release;
use crate::cluster::Cluster;
use crate::error::{E2eError, Result};
use crate::paths;
use crate::token;
use crate::wait::{self, Check};

/// The chart's environment variable for the operator's HTTP listen address (charts/…/_env.tpl).
pub const LISTEN_ENV: &str = "WHISPER_OPERATOR_LISTEN";

/// A running operator process; killed when dropped.
pub struct LocalOperator {
    child: tokio::process::Child,
    pub log: PathBuf,
    pub http: String,
    _dir: tempfile::TempDir,
}

impl LocalOperator {
    /// Starts the operator with the release's ServiceAccount token and the env of the release's
    /// Deployment, listening on a free loopback port; waits until `/healthz` answers.
    pub async fn start(cluster: &Cluster, release: &Release) -> Result<LocalOperator> {
        let dir = tempfile::tempdir().map_err(|source| E2eError::Io {
            what: "creating a temp dir".into(),
            source,
        })?;
        let sa = release.fullname();
        let token = token::request_token(cluster, &release.namespace, &sa).await?;
        let kubeconfig =
            token::write_token_kubeconfig(&cluster.kubeconfig, &token, dir.path(), &sa)?;
        let deployment = Api::<Deployment>::namespaced(cluster.client.clone(), &release.namespace)
            .get(&release.fullname())
            .await?;
        let port = free_port()?;
        let http = format!("127.0.0.1:{port}");
        let mut env = deployment_env(&deployment);
        env.retain(|(name, _)| name != LISTEN_ENV);
        env.push((LISTEN_ENV.to_string(), http.clone()));
        env.push(("POD_NAMESPACE".into(), release.namespace.clone()));
        env.push(("POD_NAME".into(), format!("local-{}", std::process::id())));
        let log = dir.path().join("operator.log");
        let child = spawn(&paths::operator_bin(), &kubeconfig, &env, &log)?;
        let mut operator = LocalOperator {
            child,
            log,
            http,
            _dir: dir,
        };
        operator.wait_healthy().await?;
        Ok(operator)
    }

    async fn wait_healthy(&mut self) -> Result<()> {
        let url = format!("http://{}/healthz", self.http);
        let http = reqwest::Client::new();
        let result = wait::until(
            "the local operator's /healthz",
            Duration::from_secs(60),
            || {
                let exited = self.child.try_wait().ok().flatten();
                let request = http.get(&url).send();
                async move {
                    if let Some(status) = exited {
                        return Err(E2eError::Unexpected(format!(
                            "operator exited early: {status}"
                        )));
                    }
                    Ok(match request.await {
                        Ok(r) if r.status().is_success() => Check::Done(()),
                        Ok(r) => Check::NotYet(format!("HTTP {}", r.status())),
                        Err(e) => Check::NotYet(e.to_string()),
                    })
                }
            },
        )
        .await;
        result.map_err(|e| {
            E2eError::Unexpected(format!("{e}\n--- operator log ---\n{}", self.log_tail()))
        })
    }

    /// The last lines of the operator's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Stops the process (SIGKILL) and waits for it.
    pub async fn stop(mut self) -> Result<()> {
        self.child.kill().await.map_err(|source| E2eError::Io {
            what: "stopping the operator".into(),
            source,
        })
    }
}

/// The literal environment of the Deployment's first container (downward-API entries are set
/// by the caller instead).
pub fn deployment_env(deployment: &Deployment) -> Vec<(String, String)> {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.env.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|e| e.value.as_ref().map(|v| (e.name.clone(), v.clone())))
        .collect()
}

fn spawn(
    bin: &Path,
    kubeconfig: &Path,
    env: &[(String, String)],
    log: &Path,
) -> Result<tokio::process::Child> {
    let command = bin.display().to_string();
    if !bin.is_file() {
        return Err(E2eError::Unexpected(format!(
            "operator binary {command} not found: run `cargo build -p whisper-operator` or set WHISPER_OPERATOR_BIN"
        )));
    }
    let out = std::fs::File::create(log).map_err(|source| E2eError::Io {
        what: format!("creating {}", log.display()),
        source,
    })?;
    let err = out.try_clone().map_err(|source| E2eError::Io {
        what: "duplicating the log handle".into(),
        source,
    })?;
    tokio::process::Command::new(bin)
        .env_clear()
        .env("KUBECONFIG", kubeconfig)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| E2eError::Spawn { command, source })
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| E2eError::Io {
            what: "finding a free port".into(),
            source,
        })
}
