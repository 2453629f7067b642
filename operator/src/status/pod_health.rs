//! What the server pods say about why a WhisperService is not ready yet: a pure reading of pod
//! statuses into one step a user can act on (still downloading, model failed to download, image
//! cannot be pulled, server crash-looping, model loading).

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::Reason;
use crate::build::{FETCH_MODEL_CONTAINER, SERVER_CONTAINER};

/// Longest container message carried into a condition; kubelet keeps up to 4 KiB.
const MAX_MESSAGE: usize = 300;

/// A failure that will not fix itself: the user has to change something.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Trouble {
    pub reason: Reason,
    pub message: String,
}

/// What the pods show, worst first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PodHealth {
    Failing(Trouble),
    /// The init container is fetching and verifying the model.
    ModelDownloading(String),
    /// The server runs and loads the model; /readyz fails until it is loaded.
    ModelLoading(String),
    /// Nothing to add to the replica counts (pending, creating, or all ready).
    Unremarkable,
}

/// Reads every pod and reports the most telling finding: a failure in any pod wins over a pod
/// still downloading, which wins over one still loading.
pub fn diagnose(pods: &[Pod]) -> PodHealth {
    let findings: Vec<PodHealth> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(diagnose_pod)
        .collect();
    let first = |pick: fn(&PodHealth) -> bool| findings.iter().find(|f| pick(f)).cloned();
    first(|f| matches!(f, PodHealth::Failing(_)))
        .or_else(|| first(|f| matches!(f, PodHealth::ModelDownloading(_))))
        .or_else(|| first(|f| matches!(f, PodHealth::ModelLoading(_))))
        .unwrap_or(PodHealth::Unremarkable)
}

/// What one pod shows.
pub fn diagnose_pod(pod: &Pod) -> PodHealth {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let Some(status) = &pod.status else {
        return PodHealth::Unremarkable;
    };
    let named = |list: &Option<Vec<ContainerStatus>>, container: &str| {
        list.iter().flatten().find(|c| c.name == container).cloned()
    };
    if let Some(init) = named(&status.init_container_statuses, FETCH_MODEL_CONTAINER) {
        if let Some(t) = image_trouble(name, &init) {
            return PodHealth::Failing(t);
        }
        if let Some(message) = failed_run_message(&init) {
            return PodHealth::Failing(Trouble {
                reason: Reason::ModelDownloadFailed,
                message: format!("pod {name}: the model download failed: {message}"),
            });
        }
        if init.state.as_ref().is_some_and(|s| s.running.is_some()) {
            return PodHealth::ModelDownloading(format!(
                "pod {name} is downloading and verifying the model"
            ));
        }
    }
    if let Some(server) = named(&status.container_statuses, SERVER_CONTAINER) {
        if let Some(t) = image_trouble(name, &server) {
            return PodHealth::Failing(t);
        }
        let waiting = server.state.as_ref().and_then(|s| s.waiting.as_ref());
        if waiting.is_some_and(|w| w.reason.as_deref() == Some("CrashLoopBackOff")) {
            let message = failed_run_message(&server).unwrap_or_else(|| "no message".into());
            return PodHealth::Failing(Trouble {
                reason: Reason::ServerCrashLooping,
                message: format!(
                    "pod {name}: whisper-server exited {} times: {message}",
                    server.restart_count
                ),
            });
        }
        if server.state.as_ref().is_some_and(|s| s.running.is_some()) && !server.ready {
            return PodHealth::ModelLoading(format!("pod {name} is loading the model"));
        }
    }
    PodHealth::Unremarkable
}

fn image_trouble(pod: &str, c: &ContainerStatus) -> Option<Trouble> {
    let waiting = c.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    matches!(
        reason,
        "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName"
    )
    .then(|| Trouble {
        reason: Reason::ImagePullFailed,
        message: format!(
            "pod {pod}: image {} of container {}: {}",
            c.image,
            c.name,
            shorten(waiting.message.as_deref().unwrap_or(reason))
        ),
    })
}

/// The message of the container's last failed run (its termination message, which is the end of
/// its log under `FallbackToLogsOnError`), if its current or last run failed.
fn failed_run_message(c: &ContainerStatus) -> Option<String> {
    let failed = |s: Option<&k8s_openapi::api::core::v1::ContainerState>| {
        s.and_then(|s| s.terminated.as_ref())
            .filter(|t| t.exit_code != 0)
            .cloned()
    };
    let t = failed(c.state.as_ref()).or_else(|| failed(c.last_state.as_ref()))?;
    let text = t
        .message
        .as_deref()
        .map(last_lines)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| t.reason.clone().unwrap_or_else(|| "no message".into()));
    Some(format!("exit code {}: {}", t.exit_code, shorten(&text)))
}

/// The error a log ends with: from its last `Error:` line on (how Rust's `main` prints an error
/// and its causes), joined into one line; else its last two lines.
fn last_lines(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.iter().rposition(|l| l.starts_with("Error: ")) {
        Some(start) => lines[start..]
            .iter()
            .filter(|l| **l != "Caused by:")
            .map(|l| l.trim_start_matches("Error: "))
            .map(|l| {
                l.split_once(": ")
                    .filter(|(n, _)| n.parse::<u32>().is_ok())
                    .map_or(l, |(_, rest)| rest)
            })
            .collect::<Vec<_>>()
            .join(": "),
        None => lines[lines.len().saturating_sub(2)..].join(" "),
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests;
