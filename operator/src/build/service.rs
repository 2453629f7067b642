//! The Service in front of the server pods.

use k8s_openapi::{
    api::core::v1::{Service, ServicePort, ServiceSpec},
    apimachinery::pkg::util::intstr::IntOrString,
};
use whisper_crds::WhisperServiceSpec;

use super::Owner;
use crate::labels;

/// The Service named like the WhisperService, port `http` → the container's `http` port.
pub fn service(owner: &Owner, spec: &WhisperServiceSpec) -> Service {
    Service {
        metadata: owner.child_meta(owner.name.clone()),
        spec: Some(ServiceSpec {
            type_: Some(spec.service.type_.as_str().to_string()),
            selector: Some(labels::selector_labels(&owner.name)),
            ports: Some(vec![ServicePort {
                name: Some(labels::HTTP_PORT_NAME.to_string()),
                port: spec.service.port,
                target_port: Some(IntOrString::String(labels::HTTP_PORT_NAME.to_string())),
                protocol: Some("TCP".to_string()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service as ws;

    #[test]
    fn defaults_to_cluster_ip_on_port_8000_selecting_the_pods() {
        let w = ws("a", "ns", "model: tiny.en");
        let svc = service(&Owner::of(&w).expect("owner"), &w.spec);
        let spec = svc.spec.expect("spec");
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        let port = &spec.ports.expect("ports")[0];
        assert_eq!(port.port, 8000);
        assert_eq!(port.target_port, Some(IntOrString::String("http".into())));
        assert_eq!(spec.selector, Some(labels::selector_labels("a")));
        assert_eq!(
            svc.metadata.owner_references.expect("owner")[0].uid,
            "uid-a"
        );
    }

    #[test]
    fn type_and_port_come_from_the_spec() {
        let w = ws(
            "a",
            "ns",
            "model: tiny.en\nservice: {type: NodePort, port: 80}",
        );
        let spec = service(&Owner::of(&w).expect("owner"), &w.spec)
            .spec
            .expect("spec");
        assert_eq!(spec.type_.as_deref(), Some("NodePort"));
        assert_eq!(spec.ports.expect("ports")[0].port, 80);
    }
}
