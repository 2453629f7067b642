//! Talking to a WhisperService's Service from outside the cluster (kind mode): `kubectl
//! port-forward`, a real transcription request, and a scrape of `/metrics`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cluster::Cluster;
use crate::error::{E2eError, Result};
use crate::paths;

/// A running `kubectl port-forward`; stopped when dropped.
pub struct PortForward {
    _child: Child,
    pub base_url: String,
}

impl PortForward {
    /// Forwards a free local port to `service/NAME:PORT` and waits until kubectl says it listens.
    pub async fn start(
        cluster: &Cluster,
        namespace: &str,
        service: &str,
        port: u16,
    ) -> Result<PortForward> {
        let target = format!("service/{service}");
        let ports = format!(":{port}");
        let mut child = Command::new(paths::tool("kubectl"))
            .env("KUBECONFIG", &cluster.kubeconfig)
            .args([
                "port-forward",
                "--address",
                "127.0.0.1",
                "-n",
                namespace,
                &target,
                &ports,
            ])
            .stdout(Stdio::piped())
            // Its errors (a pod that refused the connection) belong in the test output.
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| E2eError::Spawn {
                command: format!("kubectl port-forward {target}"),
                source,
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| E2eError::Unexpected("port-forward has no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        // kubectl prints "Forwarding from 127.0.0.1:LOCAL -> PORT" once it listens.
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| {
                E2eError::Unexpected(format!(
                    "kubectl port-forward {target} printed nothing in 60 s"
                ))
            })?
            .map_err(|source| E2eError::Io {
                what: "reading kubectl port-forward".into(),
                source,
            })?
            .unwrap_or_default();
        let local = forwarded_port(&line).ok_or_else(|| {
            E2eError::Unexpected(format!("unexpected port-forward output: {line:?}"))
        })?;
        // kubectl prints a line per connection; with nobody reading, its write fails and it drops
        // the connection it was about to forward.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(PortForward {
            _child: child,
            base_url: format!("http://127.0.0.1:{local}"),
        })
    }

    /// POST /v1/audio/transcriptions with `file` (OpenAI's form fields); returns the text.
    pub async fn transcribe(&self, file: &Path) -> Result<String> {
        let body = self.transcription(file, "json").await?;
        body["text"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| E2eError::Unexpected(format!("no text in {body}")))
    }

    /// POST /v1/audio/transcriptions with `file` in `response_format` (json or verbose_json);
    /// returns the JSON answer.
    pub async fn transcription(
        &self,
        file: &Path,
        response_format: &str,
    ) -> Result<serde_json::Value> {
        self.transcription_with(file, &[("response_format", response_format)])
            .await
    }

    /// POST /v1/audio/transcriptions with `file` and these form fields (a JSON
    /// `response_format`); returns the JSON answer.
    pub async fn transcription_with(
        &self,
        file: &Path,
        fields: &[(&str, &str)],
    ) -> Result<serde_json::Value> {
        let bytes = std::fs::read(file).map_err(|source| E2eError::Io {
            what: format!("reading {}", file.display()),
            source,
        })?;
        let part = reqwest::multipart::Part::bytes(bytes).file_name("speech.wav");
        let mut form = reqwest::multipart::Form::new().text("model", "whisper-1");
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        let form = form.part("file", part);
        let response = reqwest::Client::new()
            .post(format!("{}/v1/audio/transcriptions", self.base_url))
            .multipart(form)
            .timeout(Duration::from_secs(120))
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }

    /// GET /metrics as text.
    pub async fn metrics(&self) -> Result<String> {
        Ok(reqwest::get(format!("{}/metrics", self.base_url))
            .await?
            .error_for_status()?
            .text()
            .await?)
    }
}

/// The local port in "Forwarding from 127.0.0.1:PORT -> N".
pub fn forwarded_port(line: &str) -> Option<u16> {
    line.strip_prefix("Forwarding from 127.0.0.1:")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The value of an unlabelled-or-labelled sample `name{...} VALUE` summed over its series.
pub fn metric_sum(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_read_from_kubectl_output() {
        assert_eq!(
            forwarded_port("Forwarding from 127.0.0.1:41234 -> 8000"),
            Some(41234)
        );
        assert_eq!(forwarded_port("error: no pods"), None);
    }

    #[test]
    fn metric_sum_adds_series_and_skips_similar_names() {
        let text = "# HELP x\nwhisper_transcription_requests_total{endpoint=\"transcriptions\"} 2\n\
                    whisper_transcription_requests_total{endpoint=\"translations\"} 1\n\
                    whisper_transcription_requests_total_other 9\n";
        assert_eq!(
            metric_sum(text, "whisper_transcription_requests_total"),
            3.0
        );
    }
}
