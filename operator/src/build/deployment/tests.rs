use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::*;
use crate::fixtures::service as ws;

const IMG: &str = "img:1";

fn build(spec_yaml: &str) -> Deployment {
    let w = ws("svc", "ns", spec_yaml);
    let owner = Owner::of(&w).expect("owner");
    let config = crate::Config {
        server_image: IMG.to_string(),
        ..crate::Config::default()
    };
    let valid = crate::validate::validate(&owner, &w.spec, &config).expect("valid spec");
    deployment(&owner, &w.spec, &valid.resolved)
}

fn pod(dep: &Deployment) -> PodSpec {
    dep.spec
        .clone()
        .expect("spec")
        .template
        .spec
        .expect("pod spec")
}

fn server(dep: &Deployment) -> Container {
    pod(dep).containers[0].clone()
}

fn requests(dep: &Deployment) -> BTreeMap<String, Quantity> {
    server(dep)
        .resources
        .expect("resources")
        .requests
        .expect("requests")
}

#[test]
fn minimal_spec_gives_one_replica_owned_by_the_service_with_the_default_image() {
    let dep = build("model: tiny.en");
    assert_eq!(dep.spec.as_ref().expect("spec").replicas, Some(1));
    assert_eq!(
        dep.metadata.owner_references.expect("owner")[0].kind,
        "WhisperService"
    );
    assert_eq!(server(&build("model: tiny.en")).image.as_deref(), Some(IMG));
}

#[test]
fn cpu_request_equals_thread_count_and_no_gpu_is_requested_without_gpu_spec() {
    let dep = build("model: tiny.en\nserver: {threads: 4, parallel: 2}");
    let req = requests(&dep);
    assert_eq!(req.get("cpu"), Some(&Quantity("4".into())));
    assert!(!req.contains_key("nvidia.com/gpu"));
    let p = pod(&dep);
    assert!(p.tolerations.is_none() && p.node_selector.is_none() && p.runtime_class_name.is_none());
}

#[test]
fn user_memory_resources_are_kept_beside_the_derived_cpu() {
    let dep = build("model: tiny.en\nresources: {requests: {memory: 1Gi}, limits: {memory: 2Gi}}");
    let res = server(&dep).resources.expect("resources");
    assert_eq!(
        res.requests.expect("req").get("memory"),
        Some(&Quantity("1Gi".into()))
    );
    assert_eq!(
        res.limits.expect("lim").get("memory"),
        Some(&Quantity("2Gi".into()))
    );
}

#[test]
fn gpu_spec_sets_requests_limits_toleration_node_selector_and_runtime_class() {
    let dep = build(
        "model: base\ngpu: {count: 2, runtimeClassName: nvidia, tolerations: [{key: dedicated, operator: Exists}]}",
    );
    let res = server(&dep).resources.expect("resources");
    let two = Quantity("2".into());
    assert_eq!(res.requests.expect("req").get("nvidia.com/gpu"), Some(&two));
    assert_eq!(res.limits.expect("lim").get("nvidia.com/gpu"), Some(&two));
    let p = pod(&dep);
    let tolerations = p.tolerations.expect("tolerations");
    assert_eq!(tolerations[0].key.as_deref(), Some("nvidia.com/gpu"));
    assert_eq!(tolerations[0].effect.as_deref(), Some("NoSchedule"));
    assert_eq!(tolerations[1].key.as_deref(), Some("dedicated"));
    assert_eq!(
        p.node_selector
            .expect("selector")
            .get("nvidia.com/gpu.present")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(p.runtime_class_name.as_deref(), Some("nvidia"));
}

#[test]
fn custom_gpu_resource_name_is_used_for_requests_and_toleration() {
    let dep = build("model: base\ngpu: {resourceName: amd.com/gpu, nodeSelector: {}}");
    assert_eq!(
        requests(&dep).get("amd.com/gpu"),
        Some(&Quantity("1".into()))
    );
    let p = pod(&dep);
    assert_eq!(
        p.tolerations.expect("t")[0].key.as_deref(),
        Some("amd.com/gpu")
    );
    assert!(p.node_selector.is_none());
}

#[test]
fn init_container_fetches_and_verifies_the_catalogue_model_into_the_cache() {
    let dep = build("model: tiny.en");
    let init = &pod(&dep).init_containers.expect("init")[0];
    let args = init.args.clone().expect("args").join(" ");
    assert!(args.starts_with("fetch-model --url https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-tiny.en.bin --sha256 921e4cf8"), "{args}");
    assert!(
        args.ends_with(
            "--output /models/921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f.bin"
        ),
        "{args}"
    );
    assert_eq!(init.image.as_deref(), Some(IMG));
}

#[test]
fn server_args_carry_every_server_setting() {
    let dep = build(
        "model: tiny.en\nserver: {threads: 3, parallel: 3, queue: 5, maxUploadBytes: 2048, maxAudioSeconds: 60}",
    );
    let args = server(&dep).args.expect("args").join(" ");
    assert_eq!(
        args,
        "--model /models/921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f.bin --listen 0.0.0.0:8000 --threads 3 --slots 3 --queue 5 --max-upload-bytes 2048 --max-audio-seconds 60"
    );
}

#[test]
fn chunking_auto_becomes_the_servers_default_chunking() {
    let args = |yaml: &str| server(&build(yaml)).args.expect("args").join(" ");
    assert!(
        args("model: tiny.en\nserver: {chunking: auto}").ends_with("--default-chunking auto"),
        "{}",
        args("model: tiny.en\nserver: {chunking: auto}")
    );
    for none in ["model: tiny.en", "model: tiny.en\nserver: {chunking: none}"] {
        assert!(!args(none).contains("--default-chunking"), "{}", args(none));
    }
}

#[test]
fn api_key_secret_is_mounted_and_passed_as_a_file() {
    let dep = build("model: tiny.en\nserver: {apiKeySecret: {name: keys}}");
    let c = server(&dep);
    assert!(
        c.args
            .expect("args")
            .join(" ")
            .ends_with("--api-key-file /var/run/secrets/whisper/api-key")
    );
    let vol = pod(&dep)
        .volumes
        .expect("volumes")
        .into_iter()
        .find(|v| v.name == "api-key")
        .expect("api-key volume");
    let secret = vol.secret.expect("secret");
    assert_eq!(secret.secret_name.as_deref(), Some("keys"));
    assert_eq!(secret.items.expect("items")[0].key, "api-key");
}

#[test]
fn model_cache_is_an_empty_dir_by_default_and_a_pvc_when_asked() {
    let models = |dep: &Deployment| {
        pod(dep)
            .volumes
            .expect("volumes")
            .into_iter()
            .find(|v| v.name == "models")
            .expect("models volume")
    };
    assert!(models(&build("model: tiny.en")).empty_dir.is_some());
    let pvc = models(&build(
        "model: tiny.en\nmodelCache: {persistentVolumeClaim: {claimName: cache}}",
    ));
    assert_eq!(
        pvc.persistent_volume_claim.expect("pvc").claim_name,
        "cache"
    );
}

#[test]
fn probes_hit_the_server_endpoints_on_the_http_port() {
    let c = server(&build("model: tiny.en"));
    let path = |p: Option<Probe>| p.and_then(|p| p.http_get).and_then(|h| h.path);
    assert_eq!(path(c.startup_probe.clone()).as_deref(), Some("/healthz"));
    assert_eq!(path(c.readiness_probe.clone()).as_deref(), Some("/readyz"));
    assert_eq!(path(c.liveness_probe.clone()).as_deref(), Some("/healthz"));
    assert_eq!(c.ports.expect("ports")[0].container_port, 8000);
}

/// The checks of the `restricted` Pod Security Standard that a pod spec controls.
#[test]
fn pod_passes_the_restricted_pod_security_standard() {
    let p = pod(&build("model: tiny.en\ngpu: {}"));
    let psc = p.security_context.clone().expect("pod security context");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.expect("seccomp").type_,
        "RuntimeDefault"
    );
    assert!(p.host_network.is_none() && p.host_pid.is_none() && p.host_ipc.is_none());
    for c in p
        .containers
        .iter()
        .chain(p.init_containers.iter().flatten())
    {
        let sc = c
            .security_context
            .clone()
            .expect("container security context");
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
        assert_eq!(
            sc.capabilities.and_then(|c| c.drop),
            Some(vec!["ALL".to_string()])
        );
        assert!(sc.privileged.is_none());
    }
    for v in p.volumes.expect("volumes") {
        assert!(v.host_path.is_none(), "{}", v.name);
    }
}

#[test]
fn a_rollout_adds_a_pod_before_it_takes_one_away() {
    let strategy = build("model: tiny.en\nreplicas: 3")
        .spec
        .and_then(|s| s.strategy)
        .expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.expect("rolling update");
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
}

#[test]
fn graceful_termination_has_a_prestop_pause_and_a_grace_period() {
    let dep = build("model: tiny.en");
    let p = pod(&dep);
    assert_eq!(
        p.termination_grace_period_seconds,
        Some(TERMINATION_GRACE_SECONDS)
    );
    let pre_stop = server(&dep)
        .lifecycle
        .and_then(|l| l.pre_stop)
        .and_then(|h| h.sleep);
    assert_eq!(pre_stop.map(|s| s.seconds), Some(PRESTOP_SLEEP_SECONDS));
}

#[test]
fn pod_overrides_are_copied_and_selector_labels_win() {
    let dep = build(
        "model: tiny.en\npod: {labels: {team: a, app.kubernetes.io/instance: evil}, annotations: {x: y}, priorityClassName: high, imagePullSecrets: [{name: reg}]}",
    );
    let tmpl = dep.spec.clone().expect("spec").template;
    let labels = tmpl.metadata.clone().expect("meta").labels.expect("labels");
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(
        labels.get("app.kubernetes.io/instance").map(String::as_str),
        Some("svc")
    );
    assert_eq!(
        tmpl.metadata
            .expect("meta")
            .annotations
            .expect("ann")
            .get("x")
            .map(String::as_str),
        Some("y")
    );
    let p = pod(&dep);
    assert_eq!(p.priority_class_name.as_deref(), Some("high"));
    assert_eq!(p.image_pull_secrets.expect("secrets")[0].name, "reg");
}
