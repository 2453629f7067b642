//! What wakes a WhisperService: the watch streams the controller reconciles on, each filtered to
//! the changes its status or children depend on. Without the filters every step of every child
//! (the echo of each apply, each Deployment and Pod status update, each status write of the
//! WhisperService itself) costs a whole reconcile.
//!
//! - The WhisperService: a new generation (a spec change, or the deletion mark).
//! - A child (Deployment, Service, ConfigMap, HorizontalPodAutoscaler): its deletion, a change
//!   someone else made, or, for the Deployment, a step of its rollout ([`signal::deployment`]);
//!   never the echo of the operator's own apply ([`Ledger`]).
//! - A server pod: a change in what it says about why it is not serving ([`signal::pod`]).

mod ledger;
mod pod_board;
pub mod signal;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use futures::{Stream, StreamExt, future::ready};
use kube::{
    Resource, ResourceExt,
    runtime::watcher::{self, Event},
};

pub use ledger::{Arrival, ChildKey, Ledger, Sighting};
pub use pod_board::{PodBoard, PodPlace};

use crate::labels::SERVICE_LABEL;

/// Passes on the children (of one kind) whose change is news, recording every sighting in the
/// ledger. `signal` reads the part of the child's status that matters (`|_| 0` for none).
pub fn child_changes<K, S>(
    events: S,
    ledger: Arc<Ledger>,
    kind: &'static str,
    signal: fn(&K) -> u64,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Resource + Send + 'static,
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Send,
{
    events.filter_map(move |event| {
        let pass = match event {
            Err(e) => Some(Err(e)),
            Ok(Event::Init) => {
                ledger.listing_starts(kind);
                None
            }
            Ok(Event::InitDone) => {
                ledger.listed(kind);
                None
            }
            Ok(Event::InitApply(obj)) => sighted(&ledger, kind, Arrival::Listing, obj, signal),
            Ok(Event::Apply(obj)) => sighted(&ledger, kind, Arrival::Changed, obj, signal),
            Ok(Event::Delete(obj)) => sighted(&ledger, kind, Arrival::Deleted, obj, signal),
        };
        ready(pass)
    })
}

fn sighted<K: Resource>(
    ledger: &Ledger,
    kind: &'static str,
    arrival: Arrival,
    obj: K,
    signal: fn(&K) -> u64,
) -> Option<Result<K, watcher::Error>> {
    let key = ChildKey {
        kind,
        namespace: obj.meta().namespace.clone().unwrap_or_default(),
        name: obj.meta().name.clone().unwrap_or_default(),
    };
    let seen = Sighting {
        resource_version: obj.meta().resource_version.clone(),
        generation: obj.meta().generation,
        signal: signal(&obj),
    };
    ledger.observe(&key, arrival, seen).then_some(Ok(obj))
}

/// Passes on the pods whose [`signal::pod`] changed, after writing it on the board the
/// reconcile reads. A pod's deletion wakes nobody: the Deployment's ready count says what it
/// means.
pub fn pod_changes<S>(
    events: S,
    board: Arc<PodBoard>,
) -> impl Stream<Item = Result<Pod, watcher::Error>> + Send
where
    S: Stream<Item = Result<Event<Pod>, watcher::Error>> + Send,
{
    events.filter_map(move |event| {
        let pass = match event {
            Err(e) => Some(Err(e)),
            Ok(Event::Init) => {
                board.relisting_starts();
                None
            }
            Ok(Event::InitDone) => {
                board.relisted();
                None
            }
            Ok(Event::Delete(pod)) => {
                board.forget(&place(&pod));
                None
            }
            Ok(Event::InitApply(pod) | Event::Apply(pod)) => {
                let changed = board.record(place(&pod), signal::pod(&pod));
                changed.then_some(Ok(pod))
            }
        };
        ready(pass)
    })
}

fn place(pod: &Pod) -> PodPlace {
    PodPlace {
        namespace: pod.namespace().unwrap_or_default(),
        service: pod.labels().get(SERVICE_LABEL).cloned().unwrap_or_default(),
        pod: pod.name_any(),
    }
}
