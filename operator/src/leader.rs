//! Leader election on a coordination.k8s.io Lease, so two operator replicas never reconcile at
//! the same time. The Lease protocol is kube-lease-manager's (MIT; maintained, and built on this
//! workspace's kube 5 and k8s-openapi 0.29, unlike kubert's lease module): it creates the Lease
//! when missing, takes it when free or expired, renews and releases it, writing with server-side
//! apply and strategic-merge patches (so the chart's Role grants create on leases, and get and
//! patch on this one). This module maps the operator's settings onto it and decides when failed
//! renewals end the leadership, which the crate leaves to its caller.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseManagerError, LeaseParams};
use tokio::time::Instant;

/// Settings of the election.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease is valid without renewal (whole seconds).
    pub duration: Duration,
    /// How often the holder renews (whole seconds, less than `duration`).
    pub retry: Duration,
}

impl LeaseConfig {
    /// kube-lease-manager's (duration, grace) in seconds: it renews `grace` before the lease
    /// runs out, so renewing every `retry` is a grace of `duration - retry`.
    fn timing(&self) -> Option<(u64, u64)> {
        let (duration, retry) = (self.duration.as_secs(), self.retry.as_secs());
        (retry > 0 && retry < duration).then_some((duration, duration - retry))
    }
}

/// A failure to talk to the API server about the lease.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("leader lease {name}: {source}")]
    Api {
        name: String,
        #[source]
        source: LeaseManagerError,
    },
    #[error("leader lease {0}: the renewal period must be at least 1 s and shorter than the lease")]
    Timing(String),
}

/// Why this replica stopped leading.
#[derive(Debug, thiserror::Error)]
pub enum LeaseLost {
    #[error("another replica took the leader lease")]
    TakenOver,
    #[error("could not renew the leader lease in time: {0}")]
    Unreachable(#[source] LeaseError),
}

pub struct LeaderElection {
    manager: LeaseManager,
    config: LeaseConfig,
    /// How long before the lease runs out the crate renews it.
    grace: Duration,
}

impl LeaderElection {
    /// Creates the Lease if it does not exist yet.
    pub async fn new(client: Client, config: LeaseConfig) -> Result<Self, LeaseError> {
        let (duration, grace) = config
            .timing()
            .ok_or_else(|| LeaseError::Timing(config.name.clone()))?;
        let params = LeaseParams::new(config.identity.clone(), duration, grace);
        let manager = LeaseManager::new(
            client,
            config.name.clone(),
            config.namespace.clone(),
            params,
            LeaseCreateMode::AutoCreate,
        )
        .await;
        let manager = manager.map_err(|e| err(&config, e))?;
        Ok(Self {
            manager,
            config,
            grace: Duration::from_secs(grace),
        })
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&self) -> Result<(), LeaseError> {
        while !self.manager.changed().await.map_err(|e| self.err(e))? {}
        Ok(())
    }

    /// Renews the lease until another replica takes it, or until renewals fail for so long that
    /// the next try would come after the lease ran out; returns then.
    pub async fn hold(&self) -> LeaseLost {
        // When the current run of failed renewals began.
        let mut failing_since: Option<Instant> = None;
        loop {
            let renewing = self.manager.changed();
            tokio::pin!(renewing);
            let result = match failing_since {
                None => renewing.await,
                // After a failure the crate renews at once; once that works it sleeps until the
                // next renewal, so still waiting after half a period means the lease is renewed.
                Some(_) => match tokio::time::timeout(self.config.retry / 2, &mut renewing).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::info!("leader lease renewed again");
                        failing_since = None;
                        renewing.await
                    }
                },
            };
            match result {
                // Only a replica that did not lead hears `true`.
                Ok(true) => {}
                Ok(false) => return LeaseLost::TakenOver,
                Err(e) => {
                    let error = self.err(e);
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    // A renewal that lands after the lease ran out may race a replica taking it.
                    if since.elapsed() + self.config.retry >= self.grace {
                        return LeaseLost::Unreachable(error);
                    }
                    tracing::warn!(error = %error, "lease renewal failed; retrying");
                    tokio::time::sleep(self.config.retry).await;
                }
            }
        }
    }

    /// Gives the lease up (on shutdown): a replica that reads it next takes it at once; one
    /// already waiting notices when the term it last read ends (the crate sleeps until then).
    pub async fn release(&self) {
        if let Err(e) = self.manager.release().await {
            tracing::warn!(error = %self.err(e), "could not release the leader lease");
        }
    }

    fn err(&self, source: LeaseManagerError) -> LeaseError {
        err(&self.config, source)
    }
}

fn err(config: &LeaseConfig, source: LeaseManagerError) -> LeaseError {
    LeaseError::Api {
        name: config.name.clone(),
        source,
    }
}

#[cfg(test)]
mod tests;
