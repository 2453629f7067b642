//! The Grafana dashboard child, all of it: the ConfigMap (the single dashboard file from
//! monitoring/, labelled for Grafana's dashboard sidecar), its name, the namespace it goes to,
//! what it leaves behind when it moves, and how its copies in other namespaces are found.
//!
//! A dashboard in another namespace cannot carry an owner reference (they cannot cross
//! namespaces), so garbage collection will not remove it: the `finalizer` module does, on delete
//! or when it moves, using [`FINALIZER`] and [`copies_selector`].

use std::collections::BTreeMap;

use k8s_openapi::{api::core::v1::ConfigMap, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use whisper_crds::DashboardSpec;

use super::Owner;
use crate::labels;

/// Finalizer that removes a dashboard ConfigMap placed in another namespace.
pub const FINALIZER: &str = "whisper-operator.io/dashboard";
/// Label carrying the owning WhisperService's namespace, so copies elsewhere can be found.
pub const SERVICE_NAMESPACE_LABEL: &str = "whisper-operator.io/service-namespace";

/// What the dashboard spec asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    /// The ConfigMap to apply; `None` when the dashboard is switched off.
    pub config_map: Option<ConfigMap>,
    /// The dashboard in the owner's namespace to delete, unless that is the one applied.
    pub stale_local: Option<String>,
    /// The other namespace the dashboard goes to; needs the finalizer.
    pub remote_namespace: Option<String>,
}

/// The dashboard child for `spec`, with `json` as its content.
pub fn dashboard(owner: &Owner, spec: &DashboardSpec, json: &str) -> Dashboard {
    let namespace = spec
        .namespace
        .clone()
        .unwrap_or_else(|| owner.namespace.clone());
    let local = spec.enabled && namespace == owner.namespace;
    Dashboard {
        config_map: spec
            .enabled
            .then(|| config_map(owner, spec, namespace.clone(), json)),
        stale_local: (!local).then(|| name(owner, true)),
        remote_namespace: (spec.enabled && !local).then_some(namespace),
    }
}

/// The label selector of every copy of this owner's dashboard, in any namespace.
pub fn copies_selector(owner: &Owner) -> String {
    format!(
        "{}={},{}={}",
        labels::SERVICE_LABEL,
        owner.name,
        SERVICE_NAMESPACE_LABEL,
        owner.namespace
    )
}

/// Name of the ConfigMap; includes the namespace when it may land elsewhere, so two services of
/// the same name in different namespaces do not collide.
fn name(owner: &Owner, same_namespace: bool) -> String {
    if same_namespace {
        format!("{}-dashboard", owner.name)
    } else {
        format!("{}-{}-dashboard", owner.namespace, owner.name)
    }
}

/// In the owner's namespace the ConfigMap carries an owner reference, elsewhere labels naming
/// the owner.
fn config_map(owner: &Owner, spec: &DashboardSpec, namespace: String, json: &str) -> ConfigMap {
    let same_namespace = namespace == owner.namespace;
    let mut meta_labels = spec.labels.clone();
    meta_labels.extend(labels::common_labels(&owner.name));
    meta_labels.insert(SERVICE_NAMESPACE_LABEL.to_string(), owner.namespace.clone());
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name(owner, same_namespace)),
            namespace: Some(namespace),
            labels: Some(meta_labels),
            owner_references: same_namespace.then(|| vec![owner.owner_ref.clone()]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            format!("whisper-{}-{}.json", owner.namespace, owner.name),
            json.to_string(),
        )])),
        ..ConfigMap::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service as ws;

    fn build(spec_yaml: &str, json: &str) -> Dashboard {
        let w = ws("a", "ns", spec_yaml);
        dashboard(
            &Owner::of(&w).expect("owner"),
            &w.spec.monitoring.dashboard,
            json,
        )
    }

    #[test]
    fn same_namespace_dashboard_is_owned_and_labelled_for_the_sidecar() {
        let d = build("model: tiny.en", whisper_monitoring::DASHBOARD_JSON);
        assert_eq!((d.stale_local, d.remote_namespace), (None, None));
        let cm = d.config_map.expect("config map");
        assert_eq!(cm.metadata.name.as_deref(), Some("a-dashboard"));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("ns"));
        assert!(cm.metadata.owner_references.is_some());
        let labels = cm.metadata.labels.expect("labels");
        assert_eq!(
            labels.get("grafana_dashboard").map(String::as_str),
            Some("1")
        );
        let data = cm.data.expect("data");
        assert_eq!(
            data.get("whisper-ns-a.json").map(String::as_str),
            Some(whisper_monitoring::DASHBOARD_JSON)
        );
    }

    #[test]
    fn other_namespace_dashboard_has_no_owner_reference_but_names_its_owner() {
        let d = build(
            "model: tiny.en\nmonitoring: {dashboard: {namespace: grafana, labels: {dash: yes}}}",
            "{}",
        );
        assert_eq!(d.stale_local.as_deref(), Some("a-dashboard"));
        assert_eq!(d.remote_namespace.as_deref(), Some("grafana"));
        let cm = d.config_map.expect("config map");
        assert_eq!(cm.metadata.namespace.as_deref(), Some("grafana"));
        assert_eq!(cm.metadata.name.as_deref(), Some("ns-a-dashboard"));
        assert!(cm.metadata.owner_references.is_none());
        let labels = cm.metadata.labels.expect("labels");
        assert_eq!(labels.get("dash").map(String::as_str), Some("yes"));
        assert!(!labels.contains_key("grafana_dashboard"));
        assert_eq!(
            labels.get(SERVICE_NAMESPACE_LABEL).map(String::as_str),
            Some("ns")
        );
    }

    #[test]
    fn switched_off_dashboard_removes_the_local_one_and_needs_no_finalizer() {
        let d = build(
            "model: tiny.en\nmonitoring: {dashboard: {enabled: false, namespace: grafana}}",
            "{}",
        );
        assert_eq!(d.config_map, None);
        assert_eq!(d.stale_local.as_deref(), Some("a-dashboard"));
        assert_eq!(d.remote_namespace, None);
    }

    #[test]
    fn copies_are_found_by_the_owners_name_and_namespace() {
        let w = ws("a", "ns", "model: tiny.en");
        assert_eq!(
            copies_selector(&Owner::of(&w).expect("owner")),
            "whisper-operator.io/service=a,whisper-operator.io/service-namespace=ns"
        );
    }
}
