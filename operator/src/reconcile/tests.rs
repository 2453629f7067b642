//! The reconcile pipeline in plain `cargo test`, kube-rs's controller-rs way: a mock API server
//! (tower-test) answers each request as the pipeline makes it, so every scenario pins down which
//! calls one reconcile makes, what it sends and what it does with the answers. Their order is
//! pinned too, except among the children, which are applied concurrently. The cluster suites
//! (`tests/cluster_*.rs`) remain the proof against a real API server.

use std::{sync::Arc, time::Duration};

use http::{Request, Response};
use kube::{Client, client::Body, runtime::controller::Action};
use serde_json::{Value, json};
use tower_test::mock::{self, Handle, SendResponse};
use whisper_crds::WhisperService;

use super::{reconcile, spread};
use crate::{Config, context::Context, error::Error, fixtures, metrics::Metrics, wake::PodPlace};

const WS_PATH: &str = "/apis/whisper-operator.io/v1alpha1/namespaces/ns/whisperservices/svc";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/ns/deployments/svc";
const SERVICE: &str = "/api/v1/namespaces/ns/services/svc";
const HPA: &str = "/apis/autoscaling/v2/namespaces/ns/horizontalpodautoscalers/svc";
const PDB: &str = "/apis/policy/v1/namespaces/ns/poddisruptionbudgets/svc";
const DASHBOARD: &str = "/api/v1/namespaces/ns/configmaps/svc-dashboard";
const SERVICE_MONITOR: &str = "/apis/monitoring.coreos.com/v1/namespaces/ns/servicemonitors/svc";
const PROMETHEUS_RULE: &str = "/apis/monitoring.coreos.com/v1/namespaces/ns/prometheusrules/svc";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/ns/events";

/// The API server's side of the mock: answers requests one by one, checking each, and keeps
/// what was sent.
struct ApiServer {
    handle: Handle<Request<Body>, Response<Body>>,
    /// ("METHOD path", body) of every request answered, in the order they came.
    sent: Vec<(String, Value)>,
}

/// A request taken from the reconcile, not answered yet.
struct Received {
    /// "METHOD path".
    key: String,
    body: Value,
    send: SendResponse<Response<Body>>,
}

/// A request a scenario expects, and how to answer it: status, and what `reply` makes of the
/// request's JSON body.
struct Expected {
    key: String,
    status: u16,
    reply: Box<dyn FnOnce(&Value) -> Value + Send>,
}

fn req(
    method: &str,
    path: &str,
    status: u16,
    reply: impl FnOnce(&Value) -> Value + Send + 'static,
) -> Expected {
    Expected {
        key: format!("{method} {path}"),
        status,
        reply: Box::new(reply),
    }
}

impl ApiServer {
    /// Takes the next request and reads its body; `awaited` says what was expected if the
    /// reconcile ended instead.
    async fn receive(&mut self, awaited: &str) -> Received {
        let (request, send) = self
            .handle
            .next_request()
            .await
            .unwrap_or_else(|| panic!("expected {awaited}, but the reconcile ended"));
        let (parts, body) = request.into_parts();
        if parts.headers.get("content-type").map(|v| v.as_bytes())
            == Some(b"application/apply-patch+yaml")
        {
            let query = parts.uri.query().unwrap_or_default();
            assert!(
                query.contains("fieldManager=whisper-operator") && query.contains("force=true"),
                "server-side apply with the operator's field manager: {query}"
            );
        }
        let bytes = body.collect_bytes().await.expect("request body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("request body is JSON")
        };
        Received {
            key: format!("{} {}", parts.method, parts.uri.path()),
            body,
            send,
        }
    }

    /// Answers `request` with `status` and what `reply` makes of its body; returns that body.
    fn answer(
        &mut self,
        request: Received,
        status: u16,
        reply: impl FnOnce(&Value) -> Value,
    ) -> Value {
        let answer = serde_json::to_vec(&reply(&request.body)).expect("answer");
        request.send.send_response(
            Response::builder()
                .status(status)
                .body(Body::from(answer))
                .expect("response"),
        );
        self.sent.push((request.key, request.body.clone()));
        request.body
    }

    /// Answers the next request, which must be `method path`, with `status` and what `reply`
    /// makes of the request's JSON body; returns that body.
    async fn expect(
        &mut self,
        method: &str,
        path: &str,
        status: u16,
        reply: impl FnOnce(&Value) -> Value,
    ) -> Value {
        let key = format!("{method} {path}");
        let request = self.receive(&key).await;
        assert_eq!(request.key, key, "request out of order");
        self.answer(request, status, reply)
    }

    /// Answers the next requests, which must be those `expected`, each once, in any order: the
    /// requests of children applied concurrently. Each is answered as it comes, for the
    /// reconcile sends several before it gets an answer, and some only after another's.
    async fn expect_unordered(&mut self, mut expected: Vec<Expected>) {
        let mut answered = Vec::new();
        while !expected.is_empty() {
            let keys: Vec<&str> = expected.iter().map(|e| e.key.as_str()).collect();
            let request = self.receive(&format!("one of {keys:?}")).await;
            let Some(i) = expected.iter().position(|e| e.key == request.key) else {
                let again = if answered.contains(&request.key) {
                    " again"
                } else {
                    ""
                };
                panic!(
                    "unexpected {}{again}; still expected: {keys:?}",
                    request.key
                );
            };
            let Expected { key, status, reply } = expected.swap_remove(i);
            self.answer(request, status, reply);
            answered.push(key);
        }
    }

    /// Every first reconcile of a valid spec applies the Deployment (answered as stored with
    /// `ready` replicas ready) and the Service, discovers the optional kinds (none served) and
    /// removes an HPA and a PodDisruptionBudget that are not there; these and `others` (the rest
    /// of the children) come in any order.
    async fn expect_workload(&mut self, ready: i32, others: Vec<Expected>) {
        let mut expected = vec![
            req("PATCH", DEPLOYMENT, 200, deployment_with(ready)),
            req("PATCH", SERVICE, 200, echo),
            req("GET", "/apis", 200, api_groups(&[])),
            req("DELETE", HPA, 404, not_found),
            req("DELETE", PDB, 404, not_found),
        ];
        expected.extend(others);
        self.expect_unordered(expected).await;
    }

    /// The same after a reconcile that applied them: the Deployment again (its stored copy
    /// carries the rollout's progress), the Service skipped as current, the removals of the HPA
    /// and the PodDisruptionBudget again; with `others`, in any order.
    async fn expect_workload_again(&mut self, ready: i32, others: Vec<Expected>) {
        let mut expected = vec![
            req("PATCH", DEPLOYMENT, 200, deployment_with(ready)),
            req("DELETE", HPA, 404, not_found),
            req("DELETE", PDB, 404, not_found),
        ];
        expected.extend(others);
        self.expect_unordered(expected).await;
    }

    /// The status write, answered with `ws` carrying that status; returns the patch.
    async fn expect_status(&mut self, ws: &WhisperService) -> Value {
        self.expect("PATCH", &format!("{WS_PATH}/status"), 200, with_status(ws))
            .await
    }

    /// The pods read (one that cannot be scheduled), then the status and Event saying so.
    async fn expect_unschedulable_pod_explained(&mut self, ws: &WhisperService) {
        self.expect("GET", "/api/v1/namespaces/ns/pods", 200, |_| {
            json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [{
                "metadata": {"name": "svc-1"},
                "status": {"conditions": [{"type": "PodScheduled", "status": "False",
                    "reason": "Unschedulable", "message": "0/1 nodes are available: 1 Insufficient cpu."}]}
            }]})
        })
        .await;
        let status = self.expect_status(ws).await;
        assert_eq!(condition(&status, "Ready")["reason"], "Unschedulable");
        assert_eq!(condition(&status, "Degraded")["reason"], "Unschedulable");
        self.expect_event("Warning", "Unschedulable").await;
    }

    /// An Event of `type_` with `reason`.
    async fn expect_event(&mut self, type_: &str, reason: &str) {
        let event = self.expect("POST", EVENTS, 201, echo).await;
        assert_eq!(
            (event["type"].as_str(), event["reason"].as_str()),
            (Some(type_), Some(reason)),
            "{event}"
        );
    }

    /// The body of the last `method path` request.
    fn last_sent(&self, method: &str, path: &str) -> &Value {
        let key = format!("{method} {path}");
        self.sent
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, body)| body)
            .unwrap_or_else(|| panic!("no {key} was sent"))
    }

    /// Fails if the reconcile made a request after the scenario's last one.
    async fn expect_no_more(mut self) {
        if let Some((request, _)) = self.handle.next_request().await {
            panic!("unexpected request {} {}", request.method(), request.uri());
        }
    }
}

/// A Context on the mock API server, discovery trusted for a minute.
fn context() -> (Arc<Context>, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let config = Config {
        discovery_ttl: Duration::from_secs(60),
        ..Config::default()
    };
    let metrics = Metrics::new().expect("metrics");
    let ctx = Context::new(Client::new(service, "default"), config, metrics);
    let api = ApiServer {
        handle,
        sent: Vec::new(),
    };
    (Arc::new(ctx), api)
}

/// One reconcile of `ws` while `scenario` plays the API server; returns the reconcile's result
/// and the server, for the next reconcile or [`ApiServer::expect_no_more`].
async fn run<Fut>(
    ctx: &Arc<Context>,
    api: ApiServer,
    ws: &WhisperService,
    scenario: impl FnOnce(ApiServer) -> Fut,
) -> (Result<Action, Error>, ApiServer)
where
    Fut: Future<Output = ApiServer> + Send + 'static,
{
    let server = tokio::spawn(scenario(api));
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        reconcile(Arc::new(ws.clone()), ctx.clone()),
    )
    .await
    .expect("reconcile finishes within 10 s");
    let api = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the reconcile made every request the scenario expects")
        .expect("the requests were the ones the scenario expects");
    (result, api)
}

/// Drops the context (the mock's last client) and checks that nothing else was sent.
async fn finish(ctx: Arc<Context>, api: ApiServer) {
    drop(ctx);
    api.expect_no_more().await;
}

fn echo(body: &Value) -> Value {
    body.clone()
}

fn not_found(_: &Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
           "message": "not found", "code": 404})
}

/// The applied Deployment as the API server returns it, with `ready` of its replicas ready.
fn deployment_with(ready: i32) -> impl FnOnce(&Value) -> Value + Send + 'static {
    move |body| {
        let mut d = body.clone();
        let replicas = d["spec"]["replicas"].clone();
        d["metadata"]["generation"] = json!(1);
        d["status"] = json!({"observedGeneration": 1, "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": ready});
        d
    }
}

const MONITORING: (&str, &str) = ("monitoring.coreos.com", "v1");
const KEDA: (&str, &str) = ("keda.sh", "v1alpha1");

/// Discovery of the API groups: `served` among the optional ones.
fn api_groups(
    served: &'static [(&'static str, &'static str)],
) -> impl FnOnce(&Value) -> Value + Send + 'static {
    move |_| {
        let groups: Vec<Value> = served
            .iter()
            .map(|(group, version)| json!({"name": group, "versions": [{"groupVersion": format!("{group}/{version}"), "version": version}]}))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }
}

fn keda_resources(_: &Value) -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "keda.sh/v1alpha1",
        "resources": [{"name": "scaledobjects", "singularName": "", "namespaced": true, "kind": "ScaledObject", "verbs": ["get", "patch", "delete"]}]})
}

fn monitoring_resources(_: &Value) -> Value {
    let resource = |name: &str, kind: &str| json!({"name": name, "singularName": "", "namespaced": true, "kind": kind, "verbs": ["get", "patch", "delete"]});
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "monitoring.coreos.com/v1",
        "resources": [resource("servicemonitors", "ServiceMonitor"), resource("prometheusrules", "PrometheusRule")]})
}

/// The WhisperService as the status write returns it, carrying the status sent.
fn with_status(ws: &WhisperService) -> impl FnOnce(&Value) -> Value + Send + 'static {
    let ws = serde_json::to_value(ws).expect("ws");
    move |body| {
        let mut ws = ws;
        ws["status"] = body["status"].clone();
        ws
    }
}

fn condition<'a>(status_patch: &'a Value, type_: &str) -> &'a Value {
    status_patch["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("condition {type_} in {status_patch}"))
}

/// A spec with every monitoring child off: a reconcile is the workload, then the pods and status.
const WORKLOAD_ONLY: &str = "model: tiny.en\nmonitoring: {serviceMonitor: {enabled: false}, alerts: {enabled: false}, dashboard: {enabled: false}}";

fn service(spec: &str) -> WhisperService {
    fixtures::service("svc", "ns", spec)
}

fn resync(ws: &WhisperService) -> Action {
    Action::requeue(spread(Config::default().resync, ws))
}

#[tokio::test]
async fn a_valid_service_gets_every_child_applied_then_a_ready_status_and_a_normal_event() {
    let (ctx, api) = context();
    let ws = service("model: tiny.en");
    let stored = ws.clone();
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        api.expect_unordered(vec![
            req("PATCH", DEPLOYMENT, 200, deployment_with(1)),
            req("PATCH", SERVICE, 200, echo),
            req("GET", "/apis", 200, api_groups(&[MONITORING])),
            req(
                "GET",
                "/apis/monitoring.coreos.com/v1",
                200,
                monitoring_resources,
            ),
            req("DELETE", HPA, 404, not_found),
            req("DELETE", PDB, 404, not_found),
            req("PATCH", DASHBOARD, 200, echo),
            req("PATCH", SERVICE_MONITOR, 200, echo),
            req("PATCH", PROMETHEUS_RULE, 200, echo),
        ])
        .await;
        assert_eq!(api.last_sent("PATCH", DEPLOYMENT)["kind"], "Deployment");
        let cm = api.last_sent("PATCH", DASHBOARD);
        assert_eq!(cm["metadata"]["ownerReferences"][0]["uid"], "uid-svc");
        let status = api.expect_status(&stored).await;
        assert_eq!(condition(&status, "Ready")["reason"], "AllReplicasReady");
        assert_eq!(condition(&status, "Ready")["status"], "True");
        assert_eq!(condition(&status, "Degraded")["status"], "False");
        assert_eq!(
            condition(&status, "MonitoringReady")["reason"],
            "MonitoringApplied"
        );
        assert_eq!(status["status"]["readyReplicas"], 1);
        api.expect_event("Normal", "AllReplicasReady").await;
        api
    })
    .await;
    assert_eq!(result.expect("reconcile succeeds"), resync(&ws));
    finish(ctx, api).await;
}

#[tokio::test]
async fn an_unchanged_status_is_not_written_again_and_discovery_is_cached() {
    let (ctx, api) = context();
    let mut ws = service(
        "model: tiny.en\nmonitoring: {serviceMonitor: {enabled: false}, alerts: {enabled: false}}",
    );
    let stored = ws.clone();
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        api.expect_workload(1, vec![req("PATCH", DASHBOARD, 200, echo)])
            .await;
        // Switched off: leftovers would be removed if the kinds were served.
        let status = api.expect_status(&stored).await;
        assert_eq!(
            condition(&status, "MonitoringReady")["reason"],
            "MonitoringDisabled"
        );
        api.expect_event("Normal", "AllReplicasReady").await;
        api
    })
    .await;
    assert_eq!(result.expect("first reconcile"), resync(&ws));

    // The next watch event carries the status just written.
    let written = api.last_sent("PATCH", &format!("{WS_PATH}/status"))["status"].clone();
    ws.status = Some(serde_json::from_value(written).expect("status"));
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        // Service and dashboard skipped (applied, unchanged since); no discovery (cached), no
        // status write, no Event.
        api.expect_workload_again(1, vec![]).await;
        api
    })
    .await;
    assert_eq!(result.expect("second reconcile"), resync(&ws));
    let skipped = |kind: &str| {
        ctx.metrics
            .applies
            .with_label_values(&[kind, "skipped"])
            .get()
    };
    assert_eq!((skipped("Service"), skipped("ConfigMap")), (1, 1));
    finish(ctx, api).await;
}

#[tokio::test]
async fn an_unknown_model_is_reported_in_status_and_nothing_is_applied() {
    let (ctx, api) = context();
    let ws = service("model: tiny-en");
    let stored = ws.clone();
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        let status = api.expect_status(&stored).await;
        for type_ in ["Ready", "Progressing", "Degraded"] {
            assert_eq!(
                condition(&status, type_)["reason"],
                "InvalidSpec",
                "{type_}"
            );
        }
        let message = condition(&status, "Degraded")["message"]
            .as_str()
            .expect("message");
        assert!(message.contains("\"tiny-en\""), "{message}");
        api.expect_event("Warning", "InvalidSpec").await;
        api
    })
    .await;
    // Nothing changes until the spec does.
    assert_eq!(result.expect("reconcile succeeds"), Action::await_change());
    finish(ctx, api).await;
}

#[tokio::test]
async fn a_refused_apply_is_reported_as_degraded_and_returned_for_a_retry() {
    let (ctx, api) = context();
    let ws = service("model: tiny.en");
    let stored = ws.clone();
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        // The Service is refused; every other child is still applied.
        api.expect_unordered(vec![
            req("PATCH", DEPLOYMENT, 200, deployment_with(1)),
            req("PATCH", SERVICE, 403, |_| {
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden",
                       "message": "services \"svc\" is forbidden: exceeded quota: no-services", "code": 403})
            }),
            req("GET", "/apis", 200, api_groups(&[])),
            req("DELETE", HPA, 404, not_found),
            req("DELETE", PDB, 404, not_found),
            req("PATCH", DASHBOARD, 200, echo),
        ])
        .await;
        let status = api.expect_status(&stored).await;
        let degraded = condition(&status, "Degraded");
        assert_eq!(
            (&degraded["status"], &degraded["reason"], &degraded["message"]),
            (
                &json!("True"),
                &json!("ApplyFailed"),
                &json!("applying Service: services \"svc\" is forbidden: exceeded quota: no-services")
            )
        );
        // Readiness was never reported, so there is nothing to say about it: no Event.
        api
    })
    .await;
    match result {
        Err(Error::Apply {
            kind: "Service", ..
        }) => {}
        other => panic!("expected the Service apply error, got {other:?}"),
    }
    finish(ctx, api).await;
}

/// What the pod watch would record of the service's pod saying `signal`.
fn pod_watch_saw(ctx: &Context, signal: u64) {
    let place = PodPlace {
        namespace: "ns".into(),
        service: "svc".into(),
        pod: "svc-1".into(),
    };
    ctx.pod_board.record(place, signal);
}

#[tokio::test]
async fn missing_replicas_are_explained_by_the_pods_and_no_timer_is_set_for_them() {
    let (ctx, api) = context();
    let ws = service(WORKLOAD_ONLY);
    let stored = ws.clone();
    pod_watch_saw(&ctx, 1);
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        api.expect_workload(0, vec![req("DELETE", DASHBOARD, 404, not_found)])
            .await;
        api.expect_unschedulable_pod_explained(&stored).await;
        api
    })
    .await;
    // The pod watch wakes the service when the pods change; only the resync is scheduled.
    assert_eq!(result.expect("reconcile succeeds"), resync(&ws));
    finish(ctx, api).await;
}

#[tokio::test]
async fn missing_replicas_whose_pods_have_nothing_to_explain_cost_no_pod_list() {
    let (ctx, api) = context();
    let ws = service(WORKLOAD_ONLY);
    let stored = ws.clone();
    pod_watch_saw(&ctx, 0);
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        api.expect_workload(0, vec![req("DELETE", DASHBOARD, 404, not_found)])
            .await;
        let status = api.expect_status(&stored).await;
        assert_eq!(condition(&status, "Ready")["reason"], "ReplicasNotReady");
        api.expect_event("Normal", "ReplicasNotReady").await;
        api
    })
    .await;
    assert_eq!(result.expect("reconcile succeeds"), resync(&ws));
    finish(ctx, api).await;
}

#[tokio::test]
async fn a_rollout_stuck_on_a_new_pod_is_explained_though_every_replica_is_ready() {
    let (ctx, api) = context();
    let ws = service(WORKLOAD_ONLY);
    let stored = ws.clone();
    pod_watch_saw(&ctx, 1);
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        // The old pod ready, the surge pod of the new template not scheduled.
        api.expect_unordered(vec![
            req("PATCH", DEPLOYMENT, 200, |body| {
                let mut d = body.clone();
                d["metadata"]["generation"] = json!(2);
                d["status"] = json!({"observedGeneration": 2, "replicas": 2,
                    "updatedReplicas": 1, "readyReplicas": 1});
                d
            }),
            req("PATCH", SERVICE, 200, echo),
            req("GET", "/apis", 200, api_groups(&[])),
            req("DELETE", HPA, 404, not_found),
            req("DELETE", PDB, 404, not_found),
            req("DELETE", DASHBOARD, 404, not_found),
        ])
        .await;
        api.expect_unschedulable_pod_explained(&stored).await;
        api
    })
    .await;
    assert_eq!(result.expect("reconcile succeeds"), resync(&ws));
    finish(ctx, api).await;
}

const REMOTE_DASHBOARD: &str = "/api/v1/namespaces/grafana/configmaps/ns-svc-dashboard";

fn remote_dashboard_service() -> WhisperService {
    service(
        "model: tiny.en\nmonitoring: {serviceMonitor: {enabled: false}, alerts: {enabled: false}, dashboard: {namespace: grafana}}",
    )
}

/// This service's dashboard copies anywhere in the cluster, as a metadata list.
fn dashboard_copies(
    namespaces: &'static [&'static str],
) -> impl FnOnce(&Value) -> Value + Send + 'static {
    move |_| {
        let items: Vec<Value> = namespaces
            .iter()
            .map(|ns| {
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "ns-svc-dashboard", "namespace": ns}})
            })
            .collect();
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": {}, "items": items})
    }
}

#[tokio::test]
async fn a_remote_dashboard_gets_the_finalizer_and_old_copies_are_searched_once_per_generation() {
    let (ctx, api) = context();
    let mut ws = remote_dashboard_service();
    let stored = ws.clone();
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        api.expect_workload(
            1,
            vec![
                req("PATCH", WS_PATH, 200, with_status(&stored)),
                req("PATCH", REMOTE_DASHBOARD, 200, echo),
                req("DELETE", DASHBOARD, 404, not_found),
            ],
        )
        .await;
        assert_eq!(
            api.last_sent("PATCH", WS_PATH)["metadata"]["finalizers"],
            json!(["whisper-operator.io/dashboard"])
        );
        let cm = api.last_sent("PATCH", REMOTE_DASHBOARD);
        assert!(cm["metadata"]["ownerReferences"].is_null());
        // The finalizer goes on before the dashboard lands where garbage collection cannot go.
        let at = |key: String| api.sent.iter().position(|(k, _)| *k == key);
        assert!(at(format!("PATCH {WS_PATH}")) < at(format!("PATCH {REMOTE_DASHBOARD}")));
        api.expect_status(&stored).await;
        api.expect_event("Normal", "AllReplicasReady").await;
        api
    })
    .await;
    assert_eq!(result.expect("first reconcile"), resync(&ws));

    // With the finalizer: one search for copies left elsewhere (here one in `old`).
    let written = api.last_sent("PATCH", &format!("{WS_PATH}/status"))["status"].clone();
    ws.status = Some(serde_json::from_value(written).expect("status"));
    ws.metadata.finalizers = Some(vec!["whisper-operator.io/dashboard".into()]);
    let applies = |mut api: ApiServer, search: Option<&'static [&'static str]>| async move {
        // The remote dashboard is current: not sent again.
        let mut dashboard = vec![req("DELETE", DASHBOARD, 404, not_found)];
        if let Some(found) = search {
            dashboard.push(req(
                "GET",
                "/api/v1/configmaps",
                200,
                dashboard_copies(found),
            ));
            dashboard.push(req(
                "DELETE",
                "/api/v1/namespaces/old/configmaps/ns-svc-dashboard",
                200,
                |_| json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
            ));
        }
        api.expect_workload_again(1, dashboard).await;
        api
    };
    let (result, api) = run(&ctx, api, &ws, |api| {
        applies(api, Some(&["grafana", "old", "ns"]))
    })
    .await;
    assert_eq!(result.expect("second reconcile"), resync(&ws));
    // Same generation: no cluster-wide list.
    let (result, api) = run(&ctx, api, &ws, |api| applies(api, None)).await;
    assert_eq!(result.expect("third reconcile"), resync(&ws));
    // A spec change (the dashboard may have moved): one search again.
    ws.metadata.generation = Some(2);
    ws.status.as_mut().expect("status").observed_generation = Some(2);
    for c in &mut ws.status.as_mut().expect("status").conditions {
        c.observed_generation = Some(2);
    }
    let (result, api) = run(&ctx, api, &ws, |api| {
        applies(api, Some(&["grafana", "old"]))
    })
    .await;
    assert_eq!(result.expect("fourth reconcile"), resync(&ws));
    finish(ctx, api).await;
}

#[tokio::test]
async fn deleting_a_service_removes_its_remote_dashboards_then_the_finalizer() {
    let (ctx, api) = context();
    let mut ws = remote_dashboard_service();
    ws.metadata.finalizers = Some(vec!["whisper-operator.io/dashboard".into()]);
    ws.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(100).expect("time"),
    ));
    let stored = ws.clone();
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        api.expect(
            "GET",
            "/api/v1/configmaps",
            200,
            dashboard_copies(&["grafana"]),
        )
        .await;
        api.expect(
            "DELETE",
            REMOTE_DASHBOARD,
            200,
            |_| json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        )
        .await;
        let patch = api
            .expect("PATCH", WS_PATH, 200, with_status(&stored))
            .await;
        assert_eq!(patch["metadata"]["finalizers"], json!([]));
        api
    })
    .await;
    assert_eq!(result.expect("reconcile succeeds"), Action::await_change());
    finish(ctx, api).await;
}

#[test]
fn the_resync_is_spread_ten_percent_either_way_and_stable_per_service() {
    let hour = Duration::from_secs(3600);
    let mut seen = Vec::new();
    for i in 0..50 {
        let mut ws = service("model: tiny.en");
        ws.metadata.uid = Some(format!("uid-{i}"));
        let d = spread(hour, &ws);
        assert!(d >= hour.mul_f64(0.9) && d <= hour.mul_f64(1.1), "{d:?}");
        assert_eq!(d, spread(hour, &ws));
        seen.push(d);
    }
    seen.sort();
    seen.dedup();
    assert!(
        seen.len() > 40,
        "spread over many values, got {}",
        seen.len()
    );
}

const SCALED_OBJECT: &str = "/apis/keda.sh/v1alpha1/namespaces/ns/scaledobjects/svc";

fn in_flight_service() -> WhisperService {
    service(&format!(
        "{WORKLOAD_ONLY}\nautoscaling: {{maxReplicas: 3, signal: InFlight, prometheusAddress: 'http://prometheus.monitoring.svc:9090'}}"
    ))
}

#[tokio::test]
async fn in_flight_autoscaling_is_a_scaled_object_where_keda_is_served() {
    let (ctx, api) = context();
    let ws = in_flight_service();
    let stored = ws.clone();
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        api.expect_unordered(vec![
            req("PATCH", DEPLOYMENT, 200, deployment_with(1)),
            req("PATCH", SERVICE, 200, echo),
            req("GET", "/apis", 200, api_groups(&[KEDA])),
            req("GET", "/apis/keda.sh/v1alpha1", 200, keda_resources),
            req("DELETE", HPA, 404, not_found),
            req("PATCH", SCALED_OBJECT, 200, echo),
            req("DELETE", PDB, 404, not_found),
            req("DELETE", DASHBOARD, 404, not_found),
        ])
        .await;
        let so = api.last_sent("PATCH", SCALED_OBJECT);
        assert_eq!(so["spec"]["scaleTargetRef"]["kind"], "WhisperService");
        assert_eq!(so["spec"]["triggers"][0]["type"], "prometheus");
        let status = api.expect_status(&stored).await;
        let autoscaling = condition(&status, "AutoscalingReady");
        assert_eq!(
            (&autoscaling["status"], &autoscaling["reason"]),
            (&json!("True"), &json!("ScalingOnInFlight"))
        );
        api.expect_event("Normal", "AllReplicasReady").await;
        api
    })
    .await;
    assert_eq!(result.expect("reconcile succeeds"), resync(&ws));
    finish(ctx, api).await;
}

#[tokio::test]
async fn in_flight_autoscaling_falls_back_to_cpu_and_says_so_where_keda_is_not_served() {
    let (ctx, api) = context();
    let ws = in_flight_service();
    let stored = ws.clone();
    let (result, api) = run(&ctx, api, &ws, |mut api| async move {
        api.expect_unordered(vec![
            req("PATCH", DEPLOYMENT, 200, deployment_with(1)),
            req("PATCH", SERVICE, 200, echo),
            req("GET", "/apis", 200, api_groups(&[])),
            req("PATCH", HPA, 200, echo),
            req("DELETE", PDB, 404, not_found),
            req("DELETE", DASHBOARD, 404, not_found),
        ])
        .await;
        let hpa = api.last_sent("PATCH", HPA);
        assert_eq!(
            hpa["spec"]["metrics"][0]["resource"]["name"], "cpu",
            "{hpa}"
        );
        let status = api.expect_status(&stored).await;
        let autoscaling = condition(&status, "AutoscalingReady");
        assert_eq!(
            (&autoscaling["status"], &autoscaling["reason"]),
            (&json!("False"), &json!("KEDAMissing"))
        );
        api.expect_event("Normal", "AllReplicasReady").await;
        api
    })
    .await;
    // Discovery is asked again soon, so KEDA is used once it is installed.
    assert_eq!(
        result.expect("reconcile succeeds"),
        Action::requeue(Duration::from_secs(60))
    );
    finish(ctx, api).await;
}
