//! whisper-operator binary: flags, logging, HTTP endpoints, leader election, signals.

mod cli;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use clap::Parser;
use tokio::sync::watch;
use whisper_operator::{
    http::{self, HttpState},
    leader::{LeaderElection, LeaseConfig},
    metrics::Metrics,
    run_controller_until,
};

use cli::{Cli, Command, LogFormat, RunArgs};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Crd) = cli.command {
        print!(
            "{}",
            whisper_crds::crd_yaml().context("serialising the CRD")?
        );
        return Ok(());
    }
    run(cli.run).await
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let config = args.config()?;
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes configuration found (in-cluster or KUBECONFIG)")?;
    let version = client
        .apiserver_version()
        .await
        .context("cannot reach the Kubernetes API server")?;
    tracing::info!(server = %version.git_version, namespaces = ?config.namespaces, "starting");

    let metrics = Metrics::new().context("registering metrics")?;
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let http_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let http = tokio::spawn(http::serve(
        listener,
        HttpState {
            metrics: metrics.clone(),
            ready: ready.clone(),
        },
        args.edge_limits(),
        http_stop,
    ));
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });
    let controller_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    let result = if args.leader_election {
        let identity = args
            .pod_name
            .clone()
            .context("leader election needs this replica's identity: set --pod-name or POD_NAME")?;
        let election = LeaderElection::new(
            client.clone(),
            LeaseConfig {
                namespace: args.leader_election_namespace.clone(),
                name: args.lease_name.clone(),
                identity,
                duration: Duration::from_secs(15),
                retry: Duration::from_secs(5),
            },
        )
        .await
        .context("leader election")?;
        ready.store(true, Ordering::Relaxed);
        let mut stopped = stop_rx.clone();
        tokio::select! {
            acquired = election.acquire() => acquired.context("leader election")?,
            _ = stopped.wait_for(|s| *s) => return finish(http).await,
        }
        tracing::info!("acquired the leader lease");
        metrics.leader.set(1);
        let outcome = tokio::select! {
            _ = run_controller_until(client, config, Some(metrics.clone()), controller_stop) => Ok(()),
            lost = election.hold() => Err(anyhow::Error::new(lost)),
        };
        metrics.leader.set(0);
        election.release().await;
        outcome
    } else {
        metrics.leader.set(1);
        ready.store(true, Ordering::Relaxed);
        run_controller_until(client, config, Some(metrics.clone()), controller_stop).await;
        Ok(())
    };
    result?;
    finish(http).await
}

async fn finish(http: tokio::task::JoinHandle<()>) -> anyhow::Result<()> {
    http.await.context("HTTP task panicked")?;
    tracing::info!("stopped");
    Ok(())
}
