//! Leader election on a coordination.k8s.io Lease, so two operator replicas never reconcile at
//! the same time. Optimistic concurrency (resourceVersion) makes each acquire/renew atomic.
//!
//! Why not a crate (checked December 2026): kubert 0.25.0, the newest, is built on kube-client
//! 1.1 and k8s-openapi 0.25, so its lease module cannot take this workspace's kube 5 `Client`.
//! kube-lease-manager 0.13.1 builds against kube 5.0 and k8s-openapi 0.29, but it needs Rust
//! 1.89 (the workspace declares 1.88) and writes the Lease with server-side apply and
//! strategic-merge patches, i.e. the `patch` verb, which the chart's Role does not grant (it
//! grants create, get and update). Adopting it means changing those two and proving failover on
//! real pods (the kind suite).

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::{SignedDuration, Timestamp},
};
use kube::{Api, Client, api::PostParams};

/// Settings of the election.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease is valid without renewal.
    pub duration: Duration,
    /// How often the holder renews, and how often a standby retries.
    pub retry: Duration,
}

/// A failure to talk to the API server about the lease.
#[derive(Debug, thiserror::Error)]
#[error("leader lease {name}: {source}")]
pub struct LeaseError {
    name: String,
    #[source]
    source: kube::Error,
}

/// Why this replica stopped leading.
#[derive(Debug, thiserror::Error)]
pub enum LeaseLost {
    #[error("another replica took the leader lease")]
    TakenOver,
    #[error("could not renew the leader lease in time: {0}")]
    Unreachable(#[source] LeaseError),
}

/// Who may hold the lease now.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, it expired, or we hold it: take or renew it.
    Take,
    /// Someone else holds a valid lease.
    Wait,
}

/// Pure rule: may `identity` take `spec` at `now`?
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Take;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder.is_empty() || holder == identity {
        return Decision::Take;
    }
    let renewed = spec.renew_time.as_ref().map(|t| t.0);
    let secs = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    match renewed {
        Some(at)
            if at
                .saturating_add(SignedDuration::from_secs(secs))
                .is_ok_and(|end| end > now) =>
        {
            Decision::Wait
        }
        _ => Decision::Take,
    }
}

pub struct LeaderElection {
    api: Api<Lease>,
    config: LeaseConfig,
}

impl LeaderElection {
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    fn err(&self, source: kube::Error) -> LeaseError {
        LeaseError {
            name: self.config.name.clone(),
            source,
        }
    }

    /// Tries once to take or renew the lease; `Ok(true)` when we hold it afterwards.
    pub async fn try_acquire(&self) -> Result<bool, LeaseError> {
        let now = Timestamp::now();
        let existing = match self.api.get_opt(&self.config.name).await {
            Ok(l) => l,
            Err(e) => return Err(self.err(e)),
        };
        let current = existing.as_ref().and_then(|l| l.spec.as_ref());
        if decide(current, &self.config.identity, now) == Decision::Wait {
            return Ok(false);
        }
        let ours =
            current.and_then(|s| s.holder_identity.as_deref()) == Some(&self.config.identity);
        let transitions = current.and_then(|s| s.lease_transitions).unwrap_or(0);
        let spec = LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: i32::try_from(self.config.duration.as_secs()).ok(),
            acquire_time: if ours {
                current.and_then(|s| s.acquire_time.clone())
            } else {
                Some(MicroTime(now))
            },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(if ours { transitions } else { transitions + 1 }),
            ..LeaseSpec::default()
        };
        let result = match existing {
            Some(mut lease) => {
                lease.spec = Some(spec);
                // replace() carries resourceVersion: a concurrent writer makes this a 409.
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&self) -> Result<(), LeaseError> {
        loop {
            if self.try_acquire().await? {
                return Ok(());
            }
            tokio::time::sleep(self.config.retry).await;
        }
    }

    /// Renews the lease until a renewal fails for longer than the lease lasts; returns then,
    /// because another replica may have taken over.
    pub async fn hold(&self) -> LeaseLost {
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.config.retry).await;
            match self.try_acquire().await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => return LeaseLost::TakenOver,
                Err(e) if last_ok.elapsed() >= self.config.duration => {
                    return LeaseLost::Unreachable(e);
                }
                Err(e) => tracing::warn!(error = %e, "lease renewal failed; retrying"),
            }
        }
    }

    /// Gives the lease up so a standby takes over at once (on shutdown).
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(&self.config.identity)
        {
            spec.holder_identity = None;
            if let Err(e) = self
                .api
                .replace(&self.config.name, &PostParams::default(), &lease)
                .await
            {
                tracing::warn!(error = %e, "could not release the leader lease");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed: i64, secs: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).expect("ts"))),
            lease_duration_seconds: Some(secs),
            ..LeaseSpec::default()
        }
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).expect("ts")
    }

    #[test]
    fn absent_or_unheld_lease_is_taken() {
        assert_eq!(decide(None, "me", t(0)), Decision::Take);
        assert_eq!(
            decide(Some(&LeaseSpec::default()), "me", t(0)),
            Decision::Take
        );
    }

    #[test]
    fn own_lease_is_renewed_and_a_valid_foreign_one_is_respected() {
        assert_eq!(
            decide(Some(&spec("me", 100, 15)), "me", t(105)),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&spec("other", 100, 15)), "me", t(105)),
            Decision::Wait
        );
    }

    #[test]
    fn expired_foreign_lease_is_taken() {
        assert_eq!(
            decide(Some(&spec("other", 100, 15)), "me", t(116)),
            Decision::Take
        );
    }
}
