//! State shared by every reconciliation: client, settings, metrics, discovery, events, backoff,
//! which remote dashboards were last swept, the ledger of children
//! and the board of pods the watches keep.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use kube::{
    Client,
    runtime::{
        events::{Recorder, Reporter},
        reflector::ObjectRef,
    },
};
use whisper_crds::WhisperService;

use crate::{
    config::Config,
    discovery::Discovery,
    finalizer::Swept,
    labels::MANAGER,
    metrics::Metrics,
    wake::{Ledger, PodBoard},
};

pub struct Context {
    pub client: Client,
    pub config: Config,
    pub metrics: Metrics,
    pub discovery: Discovery,
    pub recorder: Recorder,
    pub swept: Swept,
    /// What is known of every child, shared with the watch filters.
    pub ledger: Arc<Ledger>,
    /// Which services have a pod with something to explain, written by the pod watch.
    pub pod_board: Arc<PodBoard>,
    failures: Mutex<HashMap<ObjectRef<WhisperService>, u32>>,
}

const BACKOFF_BASE: Duration = Duration::from_secs(2);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

impl Context {
    pub fn new(client: Client, config: Config, metrics: Metrics) -> Self {
        let reporter = Reporter {
            controller: MANAGER.to_string(),
            instance: config.instance.clone(),
        };
        Self {
            discovery: Discovery::new(client.clone(), config.discovery_ttl),
            recorder: Recorder::new(client.clone(), reporter),
            swept: Swept::default(),
            ledger: Arc::default(),
            pod_board: Arc::default(),
            client,
            config,
            metrics,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records one more failure of `obj` and returns how long to wait before retrying:
    /// exponential from 2 s, capped at 5 min.
    pub fn next_backoff(&self, obj: ObjectRef<WhisperService>) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(obj).or_insert(0);
        *n = n.saturating_add(1);
        backoff_for(*n)
    }

    /// Forgets past failures of `obj` after a successful reconcile.
    pub fn reset_backoff(&self, obj: &ObjectRef<WhisperService>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(obj);
    }
}

/// The delay after the `n`th consecutive failure.
pub fn backoff_for(n: u32) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_and_caps_at_five_minutes() {
        assert_eq!(backoff_for(1), Duration::from_secs(2));
        assert_eq!(backoff_for(2), Duration::from_secs(4));
        assert_eq!(backoff_for(5), Duration::from_secs(32));
        assert_eq!(backoff_for(9), BACKOFF_MAX);
        assert_eq!(backoff_for(u32::MAX), BACKOFF_MAX);
    }
}
