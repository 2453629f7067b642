//! The whole desired state as a table: for each spec, which children are wanted and where.
//! What is inside each child is tested beside its builder.

use super::*;
use crate::{Config, fixtures::service};

/// What a row expects of [`Children`].
struct Row {
    spec: &'static str,
    replicas: i32,
    hpa_max: Option<i32>,
    /// Whether a KEDA ScaledObject is built (signal InFlight).
    scaled_object: bool,
    disruption_budget: bool,
    /// (namespace, name) of the dashboard ConfigMap.
    dashboard: Option<(&'static str, &'static str)>,
    stale_local_dashboard: Option<&'static str>,
    finalizer_namespace: Option<&'static str>,
    service_monitor: bool,
    prometheus_rule: bool,
}

const ROWS: &[Row] = &[
    Row {
        spec: "model: tiny.en",
        replicas: 1,
        hpa_max: None,
        scaled_object: false,
        disruption_budget: false,
        dashboard: Some(("ns", "svc-dashboard")),
        stale_local_dashboard: None,
        finalizer_namespace: None,
        service_monitor: true,
        prometheus_rule: true,
    },
    Row {
        spec: "model: base\nreplicas: 2\nautoscaling: {minReplicas: 2, maxReplicas: 6}",
        replicas: 2,
        hpa_max: Some(6),
        scaled_object: false,
        disruption_budget: true,
        dashboard: Some(("ns", "svc-dashboard")),
        stale_local_dashboard: None,
        finalizer_namespace: None,
        service_monitor: true,
        prometheus_rule: true,
    },
    Row {
        spec: "model: tiny.en\nmonitoring: {serviceMonitor: {enabled: false}, alerts: {enabled: false}, dashboard: {enabled: false}}",
        replicas: 1,
        hpa_max: None,
        scaled_object: false,
        disruption_budget: false,
        dashboard: None,
        stale_local_dashboard: Some("svc-dashboard"),
        finalizer_namespace: None,
        service_monitor: false,
        prometheus_rule: false,
    },
    Row {
        spec: "model: tiny.en\nmonitoring: {alerts: {enabled: false}, dashboard: {namespace: grafana}}",
        replicas: 1,
        hpa_max: None,
        scaled_object: false,
        disruption_budget: false,
        dashboard: Some(("grafana", "ns-svc-dashboard")),
        stale_local_dashboard: Some("svc-dashboard"),
        finalizer_namespace: Some("grafana"),
        service_monitor: true,
        prometheus_rule: false,
    },
    Row {
        spec: "model: tiny.en\nreplicas: 0\nmonitoring: {serviceMonitor: {enabled: false}, dashboard: {namespace: ns}}",
        replicas: 0,
        hpa_max: None,
        scaled_object: false,
        disruption_budget: false,
        dashboard: Some(("ns", "svc-dashboard")),
        stale_local_dashboard: None,
        finalizer_namespace: None,
        service_monitor: false,
        prometheus_rule: true,
    },
    Row {
        spec: "model: tiny.en\nautoscaling: {maxReplicas: 3, signal: InFlight, prometheusAddress: 'http://prom:9090'}",
        replicas: 1,
        hpa_max: Some(3),
        scaled_object: true,
        disruption_budget: false,
        dashboard: Some(("ns", "svc-dashboard")),
        stale_local_dashboard: None,
        finalizer_namespace: None,
        service_monitor: true,
        prometheus_rule: true,
    },
];

#[test]
fn every_spec_gets_exactly_the_children_it_asks_for() {
    let config = Config::default();
    for row in ROWS {
        let ws = service("svc", "ns", row.spec);
        let owner = Owner::of(&ws).expect("owner");
        let valid = crate::validate::validate(&owner, &ws.spec, &config).expect("valid spec");
        let c = children(&valid).expect("children build");
        let spec = row.spec;
        assert_eq!(
            c.deployment.spec.as_ref().and_then(|s| s.replicas),
            Some(row.replicas),
            "{spec}"
        );
        assert_eq!(c.service.metadata.name.as_deref(), Some("svc"), "{spec}");
        assert_eq!(
            c.autoscaler
                .as_ref()
                .and_then(|a| a.cpu.spec.as_ref())
                .map(|s| s.max_replicas),
            row.hpa_max,
            "{spec}"
        );
        assert_eq!(
            c.autoscaler
                .as_ref()
                .and_then(|a| a.in_flight.as_ref())
                .is_some(),
            row.scaled_object,
            "{spec}"
        );
        assert_eq!(
            c.disruption_budget.is_some(),
            row.disruption_budget,
            "{spec}"
        );
        let dashboard = c.dashboard.config_map.as_ref().map(|cm| {
            (
                cm.metadata.namespace.as_deref().unwrap_or_default(),
                cm.metadata.name.as_deref().unwrap_or_default(),
            )
        });
        assert_eq!(dashboard, row.dashboard, "{spec}");
        assert_eq!(
            c.dashboard.stale_local.as_deref(),
            row.stale_local_dashboard,
            "{spec}"
        );
        assert_eq!(
            c.dashboard.remote_namespace.as_deref(),
            row.finalizer_namespace,
            "{spec}"
        );
        assert_eq!(c.service_monitor.is_some(), row.service_monitor, "{spec}");
        assert_eq!(c.prometheus_rule.is_some(), row.prometheus_rule, "{spec}");
        // Every child in the owner's namespace is owned by the WhisperService.
        let owned = [
            Some(&c.deployment.metadata),
            Some(&c.service.metadata),
            c.autoscaler.as_ref().map(|a| &a.cpu.metadata),
            c.disruption_budget.as_ref().map(|p| &p.metadata),
        ];
        for meta in owned.into_iter().flatten() {
            assert_eq!(
                meta.owner_references.as_ref().map(|r| r[0].uid.as_str()),
                Some("uid-svc"),
                "{spec}"
            );
        }
    }
}

#[test]
fn the_image_and_model_come_from_validation() {
    let ws = service("svc", "ns", "model: tiny.en");
    let owner = Owner::of(&ws).expect("owner");
    let config = Config {
        server_image: "mirror.example/whisper-server:1".into(),
        ..Config::default()
    };
    let valid = crate::validate::validate(&owner, &ws.spec, &config).expect("valid spec");
    let c = children(&valid).expect("children build");
    let pod = c
        .deployment
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec");
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("mirror.example/whisper-server:1")
    );
    let init = &pod.init_containers.expect("init containers")[0];
    assert!(
        init.args
            .as_ref()
            .expect("args")
            .contains(&valid.resolved.model_url)
    );
}
