//! The Prometheus Operator ServiceMonitor scraping the server's /metrics.

use serde_json::{Value, json};
use whisper_crds::ServiceMonitorSpec;

use super::Owner;
use crate::labels;

/// The ServiceMonitor object (monitoring.coreos.com/v1), as JSON for a dynamic apply.
pub fn service_monitor(owner: &Owner, sm: &ServiceMonitorSpec) -> Value {
    let mut meta_labels = sm.labels.clone();
    meta_labels.extend(labels::common_labels(&owner.name));
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {
            "name": owner.name,
            "namespace": owner.namespace,
            "labels": meta_labels,
            "ownerReferences": [owner.owner_ref],
        },
        "spec": {
            "selector": { "matchLabels": labels::selector_labels(&owner.name) },
            "endpoints": [{
                "port": labels::HTTP_PORT_NAME,
                "path": "/metrics",
                "interval": sm.interval,
            }],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service as ws;

    #[test]
    fn scrapes_the_http_port_every_5s_by_default_with_user_labels() {
        let w = ws(
            "a",
            "ns",
            "model: tiny.en\nmonitoring: {serviceMonitor: {labels: {release: prom}}}",
        );
        let sm = service_monitor(
            &Owner::of(&w).expect("owner"),
            &w.spec.monitoring.service_monitor,
        );
        assert_eq!(sm["spec"]["endpoints"][0]["interval"], "5s");
        assert_eq!(sm["spec"]["endpoints"][0]["port"], "http");
        assert_eq!(sm["metadata"]["labels"]["release"], "prom");
        assert_eq!(
            sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"],
            "a"
        );
        assert_eq!(sm["metadata"]["ownerReferences"][0]["uid"], "uid-a");
    }
}
