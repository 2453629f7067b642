//! The Grafana dashboard ConfigMap: the single dashboard file from monitoring/, labelled for
//! Grafana's dashboard sidecar.

use std::collections::BTreeMap;

use k8s_openapi::{api::core::v1::ConfigMap, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use whisper_crds::DashboardSpec;

use super::Owner;
use crate::labels;

/// The ConfigMap; in the owner's namespace it carries an owner reference, elsewhere labels
/// naming the owner (owner references cannot cross namespaces; a finalizer cleans it up).
pub fn dashboard_config_map(owner: &Owner, dashboard: &DashboardSpec, json: &str) -> ConfigMap {
    let namespace = dashboard
        .namespace
        .clone()
        .unwrap_or_else(|| owner.namespace.clone());
    let same_namespace = namespace == owner.namespace;
    let mut meta_labels = dashboard.labels.clone();
    meta_labels.extend(labels::common_labels(&owner.name));
    meta_labels.insert(
        labels::SERVICE_NAMESPACE_LABEL.to_string(),
        owner.namespace.clone(),
    );
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(labels::dashboard_name(
                &owner.namespace,
                &owner.name,
                same_namespace,
            )),
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

    #[test]
    fn same_namespace_dashboard_is_owned_and_labelled_for_the_sidecar() {
        let w = ws("a", "ns", "model: tiny.en");
        let cm = dashboard_config_map(
            &Owner::of(&w).expect("owner"),
            &w.spec.monitoring.dashboard,
            whisper_monitoring::DASHBOARD_JSON,
        );
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
        let w = ws(
            "a",
            "ns",
            "model: tiny.en\nmonitoring: {dashboard: {namespace: grafana, labels: {dash: yes}}}",
        );
        let cm = dashboard_config_map(
            &Owner::of(&w).expect("owner"),
            &w.spec.monitoring.dashboard,
            "{}",
        );
        assert_eq!(cm.metadata.namespace.as_deref(), Some("grafana"));
        assert_eq!(cm.metadata.name.as_deref(), Some("ns-a-dashboard"));
        assert!(cm.metadata.owner_references.is_none());
        let labels = cm.metadata.labels.expect("labels");
        assert_eq!(labels.get("dash").map(String::as_str), Some("yes"));
        assert!(!labels.contains_key("grafana_dashboard"));
        assert_eq!(
            labels
                .get(labels::SERVICE_NAMESPACE_LABEL)
                .map(String::as_str),
            Some("ns")
        );
    }
}
