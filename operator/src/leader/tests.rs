//! The election against a fake API server that stores one Lease and applies the crate's patches
//! to it, in real time (the crate reads the wall clock): a lease of 3 s renewed every 1 s.

use std::{
    collections::BTreeSet,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use http::{Request, Response};
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::MicroTime, jiff::Timestamp};
use kube::client::Body;
use serde_json::{Value, json};

use super::*;

const COLLECTION: &str = "/apis/coordination.k8s.io/v1/namespaces/ns/leases";
const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/leader";

fn config() -> LeaseConfig {
    LeaseConfig {
        namespace: "ns".into(),
        name: "leader".into(),
        identity: "me".into(),
        duration: Duration::from_secs(3),
        retry: Duration::from_secs(1),
    }
}

#[derive(Default)]
struct Store {
    lease: Option<Value>,
    /// Renewals (patches) still to refuse with a 500.
    failing_patches: u32,
    /// When a patch last succeeded.
    last_patch: Option<Instant>,
    /// "METHOD path" of every request.
    requests: Vec<String>,
}

#[derive(Clone, Default)]
struct FakeApi(Arc<Mutex<Store>>);

impl FakeApi {
    fn client(&self) -> Client {
        let fake = self.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let fake = fake.clone();
            async move { Ok::<_, Infallible>(fake.answer(request).await) }
        });
        Client::new(service, "ns")
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.0.lock().expect("store")
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.expect("request body");
        let sent: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let (method, path) = (parts.method.as_str(), parts.uri.path());
        let mut guard = self.store();
        let store = &mut *guard;
        store.requests.push(format!("{method} {path}"));
        let (status, body) = match (method, path, store.lease.as_mut()) {
            ("GET", LEASE, Some(lease)) => (200, lease.clone()),
            ("GET", LEASE, None) => (404, status_body(404, "NotFound")),
            ("POST", COLLECTION, None) => {
                let mut lease = sent;
                lease["metadata"]["namespace"] = json!("ns");
                store.lease = Some(lease.clone());
                (201, lease)
            }
            ("PATCH", LEASE, Some(_)) if store.failing_patches > 0 => {
                store.failing_patches -= 1;
                (500, status_body(500, "InternalError"))
            }
            ("PATCH", LEASE, Some(lease)) => {
                // Server-side apply and a strategic merge patch alike: set what the patch
                // names, remove what it sets to null.
                for (field, value) in sent["spec"].as_object().into_iter().flatten() {
                    let spec = &mut lease["spec"];
                    if value.is_null() {
                        if let Some(spec) = spec.as_object_mut() {
                            spec.remove(field);
                        }
                    } else {
                        spec[field] = value.clone();
                    }
                }
                let lease = lease.clone();
                store.last_patch = Some(Instant::now());
                (200, lease)
            }
            _ => panic!("unexpected request {method} {path}"),
        };
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(&body).expect("JSON")))
            .expect("response")
    }

    fn holder(&self) -> Option<String> {
        let store = self.store();
        let holder = &store.lease.as_ref()?["spec"]["holderIdentity"];
        holder.as_str().map(str::to_string)
    }

    fn patches(&self) -> usize {
        let store = self.store();
        store
            .requests
            .iter()
            .filter(|r| r.starts_with("PATCH"))
            .count()
    }
}

fn status_body(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
           "message": reason, "code": code})
}

/// A replica that took a fresh Lease.
async fn leading(fake: &FakeApi) -> LeaderElection {
    let election = LeaderElection::new(fake.client(), config())
        .await
        .expect("the Lease is created");
    tokio::time::timeout(Duration::from_secs(5), election.acquire())
        .await
        .expect("a free Lease is taken at once")
        .expect("acquire");
    assert_eq!(fake.holder().as_deref(), Some("me"));
    election
}

#[test]
fn the_renewal_period_becomes_the_crates_grace() {
    assert_eq!(config().timing(), Some((3, 2)));
    let at = |duration, retry| LeaseConfig {
        duration: Duration::from_secs(duration),
        retry: Duration::from_secs(retry),
        ..config()
    };
    assert_eq!(at(15, 5).timing(), Some((15, 10)));
    assert_eq!(
        at(5, 5).timing(),
        None,
        "renewing no sooner than it runs out"
    );
    assert_eq!(at(5, 0).timing(), None);
}

#[tokio::test]
async fn renews_and_gives_up_before_the_lease_runs_out_when_renewals_fail() {
    let fake = FakeApi::default();
    let election = leading(&fake).await;
    let hold = election.hold();
    tokio::pin!(hold);
    assert!(
        tokio::time::timeout(Duration::from_millis(2500), &mut hold)
            .await
            .is_err(),
        "leads on while renewals work"
    );
    assert!(fake.patches() >= 2, "renewed every second");

    fake.store().failing_patches = u32::MAX;
    let lost = tokio::time::timeout(Duration::from_secs(5), hold)
        .await
        .expect("gives up");
    assert!(matches!(lost, LeaseLost::Unreachable(_)), "{lost}");
    let renewed = fake.store().last_patch.expect("a renewal");
    assert!(
        renewed.elapsed() < config().duration,
        "stopped leading {:?} after the last renewal, past the lease",
        renewed.elapsed()
    );
    assert_eq!(fake.holder().as_deref(), Some("me"));
}

#[tokio::test]
async fn survives_one_failed_renewal_and_releases_on_shutdown() {
    let fake = FakeApi::default();
    let election = leading(&fake).await;
    fake.store().failing_patches = 1;
    let before = fake.patches();
    assert!(
        tokio::time::timeout(Duration::from_secs(4), election.hold())
            .await
            .is_err(),
        "a renewal retried in time keeps the lease"
    );
    assert!(fake.patches() >= before + 3, "renewed after the failure");

    election.release().await;
    assert_eq!(fake.holder(), None);
    // The chart's Role grants exactly these: create on leases, get and patch on this one.
    let verbs: BTreeSet<String> = fake.store().requests.iter().cloned().collect();
    assert_eq!(
        verbs,
        BTreeSet::from([
            format!("GET {LEASE}"),
            format!("PATCH {LEASE}"),
            format!("POST {COLLECTION}"),
        ])
    );
}

#[tokio::test]
async fn stops_leading_when_another_replica_takes_the_lease() {
    let fake = FakeApi::default();
    let election = leading(&fake).await;
    if let Some(lease) = fake.store().lease.as_mut() {
        lease["spec"]["holderIdentity"] = json!("other");
        lease["spec"]["renewTime"] = json!(MicroTime(Timestamp::now()));
    }
    let lost = tokio::time::timeout(Duration::from_secs(3), election.hold())
        .await
        .expect("notices at the next renewal");
    assert!(matches!(lost, LeaseLost::TakenOver), "{lost}");
}
