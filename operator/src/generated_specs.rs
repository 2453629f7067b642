//! Property tests of stages 1, 2 and 4 over generated WhisperServices: whatever serde accepts
//! as a spec (values inside the CRD's bounds and far outside them, as from a cluster with an
//! older CRD), `validate` resolves it or refuses it with a reason that names the field, a
//! refusal becomes a readable status, and `build` never panics and gives children that
//! serialize, carry their owner and are named as the API server requires.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use whisper_crds::{WhisperService, WhisperServiceSpec};

use crate::{
    build::{self, Owner},
    config::Config,
    labels,
    status::{self, Observed},
    validate::validate,
};

/// Integers at and past the CRD's bounds, and ordinary ones.
fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..20,
        Just(-1i64),
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MIN)),
        any::<i32>().prop_map(i64::from),
    ]
}

/// Strings a user might write, and ones no user would.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,12}",
        "[a-z0-9./_-]{1,40}",
        "\\PC{0,24}",
        Just(String::new()),
        "[a-z]{70,80}",
    ]
}

fn model() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tiny.en".to_string()),
        Just("base".to_string()),
        Just("large-v3-turbo".to_string()),
        "https?://[a-z]{1,8}\\.invalid(:[0-9]{1,5})?/[a-z]{1,8}\\.bin",
        Just("http://".to_string()),
        Just("ftp://example.invalid/m.bin".to_string()),
        text(),
    ]
}

fn string_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(text(), text(), 0..3)
}

fn quantity() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9]{1,4}(Mi|Gi|m|k)?", text()]
}

/// A spec section: present as `key: value`, or absent (serde's default).
/// Boxed: the unboxed tuple of every section nests deep enough to overflow a test thread's
/// stack in a debug build.
fn section(
    key: &'static str,
    value: impl Strategy<Value = Value> + 'static,
) -> BoxedStrategy<Option<(&'static str, Value)>> {
    prop::option::of(value.prop_map(move |v| (key, v))).boxed()
}

fn resources() -> impl Strategy<Value = Value> {
    (quantity(), quantity(), prop::option::of(quantity())).prop_map(|(limit, request, cpu)| {
        let mut requests = json!({ "memory": request });
        if let Some(cpu) = cpu {
            requests["cpu"] = json!(cpu);
        }
        json!({ "limits": { "memory": limit }, "requests": requests })
    })
}

fn gpu() -> impl Strategy<Value = Value> {
    (
        int(),
        text(),
        string_map(),
        text(),
        prop::option::of(text()),
    )
        .prop_map(|(count, resource, selector, toleration, runtime)| {
            json!({
                "count": count.clamp(i32::MIN.into(), i32::MAX.into()),
                "resourceName": resource,
                "nodeSelector": selector,
                "tolerations": [{ "key": toleration, "operator": "Exists" }],
                "runtimeClassName": runtime,
            })
        })
}

fn server() -> impl Strategy<Value = Value> {
    (
        (int(), int(), int()),
        prop_oneof![any::<i64>(), 0i64..100_000_000],
        int(),
        prop::option::of((text(), text())),
    )
        .prop_map(|((threads, parallel, queue), upload, audio, secret)| {
            let mut v = json!({
                "threads": threads, "parallel": parallel, "queue": queue,
                "maxUploadBytes": upload, "maxAudioSeconds": audio,
            });
            if let Some((name, key)) = secret {
                v["apiKeySecret"] = json!({ "name": name, "key": key });
            }
            v
        })
}

fn model_cache() -> impl Strategy<Value = Value> {
    (prop::option::of(quantity()), prop::option::of(text())).prop_map(|(empty_dir, claim)| {
        let mut v = json!({});
        if let Some(size) = empty_dir {
            v["emptyDir"] = json!({ "sizeLimit": size });
        }
        if let Some(claim) = claim {
            v["persistentVolumeClaim"] = json!({ "claimName": claim });
        }
        v
    })
}

fn autoscaling() -> impl Strategy<Value = Value> {
    (
        (int(), int(), int(), int()),
        prop_oneof![Just("Cpu"), Just("InFlight")],
        prop::option::of(text()),
        prop::option::of(int()),
    )
        .prop_map(
            |((min, max, cpu, in_flight), signal, address, stabilization)| {
                json!({
                    "minReplicas": min, "maxReplicas": max, "signal": signal,
                    "targetCpuUtilizationPercent": cpu, "targetInFlightPerReplica": in_flight,
                    "prometheusAddress": address, "scaleDownStabilizationSeconds": stabilization,
                })
            },
        )
}

fn monitoring() -> impl Strategy<Value = Value> {
    (
        (any::<bool>(), text(), string_map()),
        (any::<bool>(), prop::option::of(text()), string_map()),
        (any::<bool>(), string_map()),
    )
        .prop_map(|(sm, dashboard, alerts)| {
            json!({
                "serviceMonitor": { "enabled": sm.0, "interval": sm.1, "labels": sm.2 },
                "dashboard": { "enabled": dashboard.0, "namespace": dashboard.1, "labels": dashboard.2 },
                "alerts": { "enabled": alerts.0, "labels": alerts.1 },
            })
        })
}

fn service() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("ClusterIP"), Just("NodePort"), Just("LoadBalancer")],
        int(),
    )
        .prop_map(|(type_, port)| json!({ "type": type_, "port": port }))
}

fn pod() -> impl Strategy<Value = Value> {
    (
        string_map(),
        string_map(),
        prop::option::of(text()),
        prop::collection::vec(text(), 0..2),
    )
        .prop_map(|(labels, annotations, priority, secrets)| {
            json!({
                "labels": labels, "annotations": annotations, "priorityClassName": priority,
                "imagePullSecrets": secrets.iter().map(|s| json!({ "name": s })).collect::<Vec<_>>(),
            })
        })
}

/// A spec as JSON: the model, and each other section present or not.
fn spec_json() -> impl Strategy<Value = Value> {
    let sha = prop_oneof!["[0-9a-f]{64}", text()];
    (
        (
            model(),
            section("modelSha256", sha.prop_map(Value::from)),
            section("replicas", int().prop_map(Value::from)),
            section("image", text().prop_map(Value::from)),
            section("resources", resources()),
            section("gpu", gpu()),
        ),
        (
            section("server", server()),
            section("modelCache", model_cache()),
            section("autoscaling", autoscaling()),
            section("monitoring", monitoring()),
            section("service", service()),
            section("pod", pod()),
        ),
    )
        .prop_map(|((model, a, b, c, d, e), (f, g, h, i, j, k))| {
            let mut spec = Map::new();
            spec.insert("model".into(), Value::from(model));
            for (key, value) in [a, b, c, d, e, f, g, h, i, j, k].into_iter().flatten() {
                spec.insert(key.into(), value);
            }
            Value::Object(spec)
        })
}

/// Names the API server accepts for a custom resource (DNS subdomains), valid Service names
/// among them.
fn object_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]([-a-z0-9]{0,20}[a-z0-9])?",
        "[a-z0-9]([-a-z0-9.]{0,90}[a-z0-9])?",
        "[a-z]{60,70}",
    ]
}

fn whisper_service(name: &str, namespace: &str, spec: WhisperServiceSpec) -> WhisperService {
    let mut ws = WhisperService::new(name, spec);
    ws.metadata.namespace = Some(namespace.to_string());
    ws.metadata.uid = Some("0b8d4c5e-0000-4000-8000-000000000000".to_string());
    ws.metadata.generation = Some(1);
    ws
}

/// A DNS-1035 label: what a Service's name must be.
fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !s.is_empty()
        && s.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes[s.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// A label value the API server accepts (empty, or up to 63 alphanumerics with `-_.` inside).
fn is_label_value(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.is_empty()
        || (s.len() <= 63
            && s.starts_with(alnum)
            && s.ends_with(alnum)
            && s.chars().all(|c| alnum(c) || "-_.".contains(c)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_spec_is_deployed_or_refused_with_a_readable_status(
        spec in spec_json(),
        name in object_name(),
        namespace in "[a-z]([-a-z0-9]{0,20}[a-z0-9])?",
    ) {
        let spec: WhisperServiceSpec = serde_json::from_value(spec.clone())
            .map_err(|e| TestCaseError::fail(format!("the generator's spec does not parse: {e}: {spec}")))?;
        let ws = whisper_service(&name, &namespace, spec);
        let owner = Owner::of(&ws).expect("namespace and uid are set");
        let config = Config::default();
        match validate(&owner, &ws.spec, &config) {
            Err(invalid) => {
                let message = invalid.to_string();
                prop_assert!(
                    message.starts_with("spec.") || message.starts_with("metadata."),
                    "a refusal names the field: {message}"
                );
                prop_assert!(!message.contains('\n') && message.len() < 2048, "{message}");
                let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
                let report = status::compute(&ws, &Observed::Invalid(&invalid), &now);
                prop_assert!(!report.ready.status);
                prop_assert_eq!(&report.ready.message, &message);
                let degraded = report.status.conditions.iter().find(|c| c.type_ == "Degraded");
                prop_assert!(degraded.is_some_and(|c| c.status == "True" && c.message == message));
            }
            Ok(valid) => {
                prop_assert!(is_dns_label(&name), "{name:?} passed validation but cannot name a Service");
                let children = build::children(&valid).expect("the embedded rules parse");
                let owner_ref = ws.controller_owner_ref(&()).expect("uid set");
                let deployment = &children.deployment.metadata;
                let service = &children.service.metadata;
                for meta in [deployment, service] {
                    prop_assert_eq!(meta.name.as_deref(), Some(name.as_str()));
                    prop_assert_eq!(meta.namespace.as_deref(), Some(namespace.as_str()));
                    prop_assert_eq!(meta.owner_references.as_deref(), Some(std::slice::from_ref(&owner_ref)));
                }
                for (key, value) in labels::common_labels(&name) {
                    prop_assert!(is_label_value(&value), "label {key}={value:?}");
                }
                prop_assert!(serde_json::to_value(&children.deployment).is_ok());
                prop_assert!(serde_json::to_value(&children.service).is_ok());
                if let Some(cm) = &children.dashboard.config_map {
                    prop_assert!(serde_json::to_value(cm).is_ok());
                    prop_assert!(cm.metadata.name.as_ref().is_some_and(|n| n.len() <= 253));
                }
                if let Some(a) = &children.autoscaler {
                    prop_assert!(serde_json::to_value(&a.cpu).is_ok());
                }
                if let Some(pdb) = &children.disruption_budget {
                    prop_assert!(serde_json::to_value(pdb).is_ok());
                }
                for child in [&children.service_monitor, &children.prometheus_rule].into_iter().flatten() {
                    prop_assert_eq!(child["metadata"]["namespace"].as_str(), Some(namespace.as_str()));
                }
            }
        }
    }

    #[test]
    fn metadata_without_a_namespace_or_uid_is_an_error_not_a_panic(
        name in object_name(),
        namespace in prop::option::of("[a-z]{1,10}"),
        uid in prop::option::of("[a-f0-9-]{8,36}"),
    ) {
        let spec: WhisperServiceSpec = serde_json::from_value(json!({ "model": "tiny.en" })).expect("spec");
        let mut ws = WhisperService::new(&name, spec);
        ws.metadata.namespace = namespace.clone();
        ws.metadata.uid = uid.clone();
        let owner = Owner::of(&ws);
        prop_assert_eq!(owner.is_ok(), namespace.is_some() && uid.is_some());
        if let Err(e) = owner {
            prop_assert!(e.brief().starts_with("object has no metadata."), "{}", e.brief());
        }
    }
}
