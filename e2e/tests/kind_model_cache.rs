//! The model cache on a PersistentVolumeClaim, on kind's real pods: the first pod downloads the
//! model into the claim, every later pod finds it there and only verifies it, and a pod started
//! while the model server is gone still becomes Ready from the cache. What each pod did is read
//! from its fetch-model init container's log. `e2e/kind/run.sh` sets the cluster up and runs this.
//!
//! The claim is bound to a `local` PersistentVolume on the worker node (kind has no shared
//! storage), so every server pod of the test runs there, one at a time.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    LocalVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeSpec, Pod,
    VolumeNodeAffinity, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use whisper_e2e::chart;
use whisper_e2e::cluster::{Cluster, Mode};
use whisper_e2e::kind_node::{container_logs, docker_exec, kubectl, node_named_by};
use whisper_e2e::kind_setup::KindTest;
use whisper_e2e::rollout;
use whisper_e2e::wait::{self, Check};
use whisper_e2e::whisperservice::WhisperServiceRef;
use whisper_operator::build::FETCH_MODEL_CONTAINER;

const SERVICE: &str = "cached";
const CLAIM: &str = "model-cache";
const READY_TIMEOUT: Duration = Duration::from_secs(300);
/// The server's user (the operator's pod security context), which must own the volume's folder.
const SERVER_UID: u32 = 65532;
const DOWNLOADED: &str = "model downloaded and verified";
const FROM_CACHE: &str = "model already present and verified";

#[tokio::test]
#[ignore = "needs a kind cluster: e2e/kind/run.sh"]
async fn pods_after_the_first_start_from_the_cache_even_without_the_model_server() {
    let Some(KindTest {
        cluster,
        setup,
        ns,
        model_url,
        ..
    }) = KindTest::start("ws-cache").await
    else {
        return;
    };
    let release = chart::install(
        &cluster,
        &ns.name,
        &ns.name,
        &chart::values_for(Mode::Kind, &[]),
    )
    .await
    .expect("helm install");
    let volume = LocalVolume::create(&cluster, &ns.name)
        .await
        .expect("a local PersistentVolume and its claim");

    let svc = WhisperServiceRef::new(&cluster, &ns.name, SERVICE);
    let mut manifest = setup.manifest(&model_url, Some(&setup.model_sha256));
    manifest["spec"]["modelCache"] = json!({"persistentVolumeClaim": {"claimName": CLAIM}});
    svc.apply(&manifest).await.expect("apply");
    svc.wait_condition("Ready", "True", READY_TIMEOUT)
        .await
        .expect("Ready");
    let first = one_pod(&cluster, &ns.name).await;
    assert_fetch_said(&cluster, &ns.name, &first, DOWNLOADED).await;

    // A later pod: the model is on the claim.
    let second = replace(&cluster, &ns.name, &first).await;
    assert_fetch_said(&cluster, &ns.name, &second, FROM_CACHE).await;

    // The model server goes away; a pod started now has only the cache.
    kubectl(
        &cluster,
        &[
            "scale",
            "deployment/model-server",
            "-n",
            &ns.name,
            "--replicas=0",
        ],
    )
    .await
    .expect("scale the model server to 0");
    no_model_server_pods(&cluster.client, &ns.name).await;
    let third = replace(&cluster, &ns.name, &second).await;
    assert_fetch_said(&cluster, &ns.name, &third, FROM_CACHE).await;
    svc.wait_condition("Ready", "True", READY_TIMEOUT)
        .await
        .expect("Ready from the cache with no model server");

    svc.delete().await.expect("delete");
    svc.wait_gone(READY_TIMEOUT).await.expect("gone");
    release.uninstall(&cluster).await.expect("helm uninstall");
    volume.remove().await;
}

/// Deletes `pod` and returns its replacement once it is the service's one ready pod.
async fn replace(cluster: &Cluster, namespace: &str, pod: &Pod) -> Pod {
    let name = pod.metadata.name.as_deref().expect("pod name");
    kubectl(cluster, &["delete", "pod", "-n", namespace, name])
        .await
        .expect("kubectl delete pod");
    let pods = rollout::settled(cluster, namespace, SERVICE, 1, READY_TIMEOUT)
        .await
        .expect("a ready replacement");
    assert_ne!(pods[0].metadata.name.as_deref(), Some(name), "not replaced");
    pods[0].clone()
}

async fn one_pod(cluster: &Cluster, namespace: &str) -> Pod {
    rollout::settled(cluster, namespace, SERVICE, 1, READY_TIMEOUT)
        .await
        .expect("one ready pod")
        .remove(0)
}

async fn assert_fetch_said(cluster: &Cluster, namespace: &str, pod: &Pod, expected: &str) {
    let logs = container_logs(cluster, namespace, pod, FETCH_MODEL_CONTAINER)
        .await
        .expect("the fetch-model container's log");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    eprintln!("{name} fetch-model: {}", logs.trim());
    assert!(
        logs.contains(expected),
        "{name}: expected '{expected}' in the fetch-model log:\n{logs}"
    );
}

async fn no_model_server_pods(client: &Client, namespace: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let selector = deployments
        .get("model-server")
        .await
        .expect("model-server Deployment")
        .spec
        .and_then(|s| s.selector.match_labels)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    wait::until(
        "the model server's pods to be gone",
        READY_TIMEOUT,
        || async {
            let n = pods
                .list(&ListParams::default().labels(&selector))
                .await?
                .items
                .len();
            Ok(if n == 0 {
                Check::Done(())
            } else {
                Check::NotYet(format!("{n} pods"))
            })
        },
    )
    .await
    .expect("model server gone");
}

/// A folder on the worker node as a `local` PersistentVolume, pre-bound to [`CLAIM`] in the
/// test's namespace. The volume is cluster-wide, so the test removes it (and the folder).
struct LocalVolume {
    client: Client,
    name: String,
    node: String,
    path: String,
}

impl LocalVolume {
    async fn create(cluster: &Cluster, namespace: &str) -> Result<Self, whisper_e2e::E2eError> {
        let node = node_named_by(cluster, "!node-role.kubernetes.io/control-plane").await;
        let name = format!("{namespace}-model-cache");
        let path = format!("/var/local/whisper-e2e/{name}");
        docker_exec(
            &node,
            &format!("mkdir -p {path} && chown {SERVER_UID}:{SERVER_UID} {path}"),
        )
        .await?;
        let volume = PersistentVolume {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                capacity: Some(size()),
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                persistent_volume_reclaim_policy: Some("Retain".into()),
                storage_class_name: Some(String::new()),
                local: Some(LocalVolumeSource {
                    path: path.clone(),
                    fs_type: None,
                }),
                claim_ref: Some(ObjectReference {
                    namespace: Some(namespace.to_string()),
                    name: Some(CLAIM.to_string()),
                    ..ObjectReference::default()
                }),
                node_affinity: Some(VolumeNodeAffinity {
                    required: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "kubernetes.io/hostname".into(),
                                operator: "In".into(),
                                values: Some(vec![node.clone()]),
                            }]),
                            match_fields: None,
                        }],
                    }),
                }),
                ..PersistentVolumeSpec::default()
            }),
            status: None,
        };
        Api::<PersistentVolume>::all(cluster.client.clone())
            .create(&PostParams::default(), &volume)
            .await?;
        let claim = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(CLAIM.to_string()),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: Some(String::new()),
                volume_name: Some(name.clone()),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(size()),
                    limits: None,
                }),
                ..PersistentVolumeClaimSpec::default()
            }),
            status: None,
        };
        Api::<PersistentVolumeClaim>::namespaced(cluster.client.clone(), namespace)
            .patch(
                CLAIM,
                &PatchParams::apply("whisper-e2e").force(),
                &Patch::Apply(&claim),
            )
            .await?;
        Ok(LocalVolume {
            client: cluster.client.clone(),
            name,
            node,
            path,
        })
    }

    /// Deletes the volume and its folder (the claim goes with the namespace).
    async fn remove(self) {
        let deleted = Api::<PersistentVolume>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::default())
            .await;
        if let Err(e) = deleted {
            eprintln!("PersistentVolume {} not deleted: {e}", self.name);
        }
        if let Err(e) = docker_exec(&self.node, &format!("rm -rf {}", self.path)).await {
            eprintln!("{} on {} not removed: {e}", self.path, self.node);
        }
    }
}

fn size() -> BTreeMap<String, Quantity> {
    BTreeMap::from([("storage".to_string(), Quantity("1Gi".into()))])
}
