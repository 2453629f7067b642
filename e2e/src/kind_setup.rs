//! What `e2e/kind/run.sh` hands the kind suites besides the cluster (the model, the
//! Prometheus it installed, the label that Prometheus selects by), and the WhisperService they
//! all start from.

use std::path::Path;

use serde_json::{Value, json};

use crate::cluster::{Cluster, Mode};
use crate::in_cluster;
use crate::namespace::TestNamespace;

/// What every kind test starts from: the cluster, what `run.sh` set up, a fresh namespace, and
/// the model server in it.
pub struct KindTest {
    pub cluster: Cluster,
    pub setup: Setup,
    pub ns: TestNamespace,
    /// The in-cluster URL of the model file.
    pub model_url: String,
    /// The in-cluster URL of the second model file (base), for a change of model.
    pub second_model_url: String,
}

impl KindTest {
    /// `None` (the test is skipped, saying so) unless `WHISPER_E2E_MODE=kind`: real pods need
    /// kind.
    pub async fn start(namespace_prefix: &str) -> Option<KindTest> {
        let cluster = match Cluster::from_env().await {
            Ok(c) if c.mode == Mode::Kind => c,
            Ok(_) => {
                eprintln!("skipped: real pods need WHISPER_E2E_MODE=kind (e2e/kind/run.sh)");
                return None;
            }
            Err(e) => panic!("{e}"),
        };
        let setup = Setup::from_env();
        let ns = TestNamespace::create(&cluster, namespace_prefix)
            .await
            .expect("namespace");
        let model_url = in_cluster::deploy_model_server(&cluster, &ns.name, &setup.file_name())
            .await
            .expect("model server");
        let second_model_url =
            model_url.replace(&setup.file_name(), &setup.second_model.file_name());
        Some(KindTest {
            cluster,
            setup,
            ns,
            model_url,
            second_model_url,
        })
    }
}

fn env(name: &'static str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run e2e/kind/run.sh"))
}

/// What `e2e/kind/run.sh` set up besides the cluster.
pub struct Setup {
    pub model_file: String,
    pub model_sha256: String,
    /// The second model the model server serves (base), for a change of model.
    pub second_model: ModelFile,
    pub prometheus_namespace: String,
    pub prometheus_service: String,
    /// The label Prometheus selects ServiceMonitors and PrometheusRules by.
    pub selector: (String, String),
}

impl Setup {
    pub fn from_env() -> Setup {
        let selector = env("WHISPER_E2E_MONITORING_SELECTOR");
        let (key, value) = selector
            .split_once('=')
            .expect("WHISPER_E2E_MONITORING_SELECTOR is KEY=VALUE");
        Setup {
            model_file: env("WHISPER_E2E_MODEL_FILE"),
            model_sha256: env("WHISPER_E2E_MODEL_SHA256"),
            second_model: ModelFile {
                path: env("WHISPER_E2E_SECOND_MODEL_FILE"),
                sha256: env("WHISPER_E2E_SECOND_MODEL_SHA256"),
            },
            prometheus_namespace: env("WHISPER_E2E_PROMETHEUS_NAMESPACE"),
            prometheus_service: env("WHISPER_E2E_PROMETHEUS_SERVICE"),
            selector: (key.to_string(), value.to_string()),
        }
    }

    pub fn file_name(&self) -> String {
        file_name(&self.model_file)
    }

    /// A CPU WhisperService on one thread (the kind nodes share two cores) whose monitoring
    /// objects carry the label this cluster's Prometheus selects.
    pub fn manifest(&self, model: &str, sha256: Option<&str>) -> Value {
        let (k, v) = &self.selector;
        let mut m = json!({
            "apiVersion": "whisper-operator.io/v1alpha1",
            "kind": "WhisperService",
            "metadata": {},
            "spec": {
                "model": model,
                "server": {"threads": 1},
                "resources": {"requests": {"memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                "monitoring": {
                    "serviceMonitor": {"labels": {k: v}},
                    "alerts": {"labels": {k: v}},
                },
            },
        });
        if let Some(sha) = sha256 {
            m["spec"]["modelSha256"] = json!(sha);
        }
        m
    }
}

/// A model file on this machine that the model server also serves.
pub struct ModelFile {
    pub path: String,
    pub sha256: String,
}

impl ModelFile {
    /// The name the model server serves it under.
    pub fn file_name(&self) -> String {
        file_name(&self.path)
    }
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}
