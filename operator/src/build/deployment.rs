//! How a WhisperService becomes a Deployment: the server pod with its model-fetching init
//! container, probes, resources, GPU placement and a `restricted`-compliant security context.

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment},
        core::v1::{
            Capabilities, Container, ContainerPort, EmptyDirVolumeSource, HTTPGetAction, KeyToPath,
            Lifecycle, LifecycleHandler, PersistentVolumeClaimVolumeSource, PodSecurityContext,
            PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
            SecretVolumeSource, SecurityContext, SleepAction, Toleration, Volume, VolumeMount,
        },
    },
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{LabelSelector, ObjectMeta},
        util::intstr::IntOrString,
    },
};
use whisper_crds::{Chunking, GpuSpec, WhisperServiceSpec};

use super::Owner;
use crate::{labels, validate::Resolved};

/// Container names; pod_health reads the statuses of these two.
pub const FETCH_MODEL_CONTAINER: &str = "fetch-model";
pub const SERVER_CONTAINER: &str = "whisper-server";
/// The end of a failed container's log becomes its termination message, which the operator
/// quotes in the WhisperService's status.
const TERMINATION_MESSAGE_POLICY: &str = "FallbackToLogsOnError";
const MODEL_DIR: &str = "/models";
const API_KEY_DIR: &str = "/var/run/secrets/whisper";
const API_KEY_FILE: &str = "/var/run/secrets/whisper/api-key";
/// Non-root uid/gid of the server image; fsGroup makes the model volume writable for it.
const RUN_AS: i64 = 65532;
/// Seconds the pod keeps serving after it is removed from the Service's endpoints, so that
/// clients mid-connection are not cut off.
const PRESTOP_SLEEP_SECONDS: i64 = 5;
/// Time for in-flight transcriptions to finish after SIGTERM.
const TERMINATION_GRACE_SECONDS: i64 = 120;

/// The Deployment running whisper-server for this spec.
pub fn deployment(owner: &Owner, spec: &WhisperServiceSpec, resolved: &Resolved) -> Deployment {
    let selector = labels::selector_labels(&owner.name);
    let mut pod_labels = spec.pod.labels.clone();
    pod_labels.extend(selector.clone());

    Deployment {
        metadata: owner.child_meta(owner.name.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(spec.replicas),
            selector: LabelSelector {
                match_labels: Some(selector),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: (!spec.pod.annotations.is_empty())
                        .then(|| spec.pod.annotations.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(spec, resolved)),
            },
            strategy: Some(surge_first()),
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// A change starts one new pod and retires an old one only once the new one is ready (its model
/// loaded), so a rollout never lowers the number of pods serving. It needs room for one pod more.
fn surge_first() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("RollingUpdate".to_string()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(IntOrString::Int(1)),
            max_unavailable: Some(IntOrString::Int(0)),
        }),
    }
}

fn pod_spec(spec: &WhisperServiceSpec, resolved: &Resolved) -> PodSpec {
    let gpu = spec.gpu.as_ref();
    PodSpec {
        init_containers: Some(vec![fetch_model_container(resolved)]),
        containers: vec![server_container(spec, resolved)],
        volumes: Some(volumes(spec)),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_string(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        automount_service_account_token: Some(false),
        node_selector: gpu
            .map(|g| g.node_selector.clone())
            .filter(|s| !s.is_empty()),
        tolerations: gpu.map(gpu_tolerations),
        runtime_class_name: gpu.and_then(|g| g.runtime_class_name.clone()),
        affinity: spec.pod.affinity.clone(),
        priority_class_name: spec.pod.priority_class_name.clone(),
        image_pull_secrets: (!spec.pod.image_pull_secrets.is_empty())
            .then(|| spec.pod.image_pull_secrets.clone()),
        ..PodSpec::default()
    }
}

/// The GPU taint's toleration first, then the user's.
fn gpu_tolerations(gpu: &GpuSpec) -> Vec<Toleration> {
    let mut tolerations = vec![Toleration {
        key: Some(gpu.resource_name.clone()),
        operator: Some("Exists".to_string()),
        effect: Some("NoSchedule".to_string()),
        ..Toleration::default()
    }];
    tolerations.extend(gpu.tolerations.iter().cloned());
    tolerations
}

fn restricted_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            add: None,
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_string(),
            localhost_profile: None,
        }),
        ..SecurityContext::default()
    }
}

fn model_mount() -> VolumeMount {
    VolumeMount {
        name: "models".to_string(),
        mount_path: MODEL_DIR.to_string(),
        ..VolumeMount::default()
    }
}

/// Where the model is kept in the cache volume: named by its checksum, so that a cache shared by
/// several pods (a PersistentVolumeClaim) holds each model once, and a change of model neither
/// overwrites the file that pods of the old model may still load nor downloads it again on the
/// way back.
fn model_path(resolved: &Resolved) -> String {
    format!(
        "{MODEL_DIR}/{}.bin",
        resolved.model_sha256.to_ascii_lowercase()
    )
}

fn fetch_model_container(resolved: &Resolved) -> Container {
    Container {
        name: FETCH_MODEL_CONTAINER.to_string(),
        image: Some(resolved.image.clone()),
        args: Some(
            [
                "fetch-model",
                "--url",
                &resolved.model_url,
                "--sha256",
                &resolved.model_sha256,
                "--output",
                &model_path(resolved),
            ]
            .map(String::from)
            .to_vec(),
        ),
        volume_mounts: Some(vec![model_mount(), tmp_mount()]),
        security_context: Some(restricted_security_context()),
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.to_string()),
        ..Container::default()
    }
}

fn tmp_mount() -> VolumeMount {
    VolumeMount {
        name: "tmp".to_string(),
        mount_path: "/tmp".to_string(),
        ..VolumeMount::default()
    }
}

fn server_args(spec: &WhisperServiceSpec, resolved: &Resolved) -> Vec<String> {
    let s = &spec.server;
    let mut args: Vec<String> = vec![
        "--model".into(),
        model_path(resolved),
        "--listen".into(),
        format!("0.0.0.0:{}", labels::HTTP_PORT),
        "--threads".into(),
        s.threads.to_string(),
        "--slots".into(),
        s.parallel.to_string(),
        "--queue".into(),
        s.queue.to_string(),
        "--max-upload-bytes".into(),
        s.max_upload_bytes.to_string(),
        "--max-audio-seconds".into(),
        s.max_audio_seconds.to_string(),
    ];
    if s.api_key_secret.is_some() {
        args.extend(["--api-key-file".into(), API_KEY_FILE.into()]);
    }
    if s.chunking != Chunking::None {
        args.extend(["--default-chunking".into(), s.chunking.as_str().into()]);
    }
    args
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String(labels::HTTP_PORT_NAME.to_string()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

/// CPU requests equal the thread count, so the scheduler reserves a core per whisper.cpp
/// thread; GPUs go into requests and limits (extended resources need both equal).
fn resources(spec: &WhisperServiceSpec) -> ResourceRequirements {
    let mut res = spec.resources.clone().unwrap_or_default();
    let mut requests = res.requests.take().unwrap_or_default();
    requests.insert("cpu".to_string(), Quantity(spec.server.threads.to_string()));
    let mut limits = res.limits.take().unwrap_or_default();
    if let Some(gpu) = &spec.gpu {
        let count = Quantity(gpu.count.to_string());
        requests.insert(gpu.resource_name.clone(), count.clone());
        limits.insert(gpu.resource_name.clone(), count);
    }
    res.requests = Some(requests);
    res.limits = (!limits.is_empty()).then_some(limits);
    res
}

fn server_container(spec: &WhisperServiceSpec, resolved: &Resolved) -> Container {
    let mut mounts = vec![model_mount(), tmp_mount()];
    if spec.server.api_key_secret.is_some() {
        mounts.push(VolumeMount {
            name: "api-key".to_string(),
            mount_path: API_KEY_DIR.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    Container {
        name: SERVER_CONTAINER.to_string(),
        image: Some(resolved.image.clone()),
        args: Some(server_args(spec, resolved)),
        ports: Some(vec![ContainerPort {
            name: Some(labels::HTTP_PORT_NAME.to_string()),
            container_port: labels::HTTP_PORT,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        resources: Some(resources(spec)),
        // Loading a large model can take minutes; the startup probe holds off liveness until then.
        startup_probe: Some(http_probe("/healthz", 5, 120)),
        readiness_probe: Some(http_probe("/readyz", 5, 2)),
        liveness_probe: Some(http_probe("/healthz", 10, 3)),
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: PRESTOP_SLEEP_SECONDS,
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        volume_mounts: Some(mounts),
        security_context: Some(restricted_security_context()),
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.to_string()),
        ..Container::default()
    }
}

fn volumes(spec: &WhisperServiceSpec) -> Vec<Volume> {
    let cache = &spec.model_cache;
    let mut models = Volume {
        name: "models".to_string(),
        ..Volume::default()
    };
    match &cache.persistent_volume_claim {
        Some(pvc) => {
            models.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                claim_name: pvc.claim_name.clone(),
                read_only: None,
            })
        }
        None => {
            models.empty_dir = Some(EmptyDirVolumeSource {
                size_limit: cache.empty_dir.as_ref().and_then(|e| e.size_limit.clone()),
                medium: None,
            })
        }
    }
    let mut volumes = vec![
        models,
        Volume {
            name: "tmp".to_string(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    if let Some(key) = &spec.server.api_key_secret {
        volumes.push(Volume {
            name: "api-key".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(key.name.clone()),
                items: Some(vec![KeyToPath {
                    key: key.key.clone(),
                    path: "api-key".to_string(),
                    mode: None,
                }]),
                default_mode: Some(0o440),
                optional: None,
            }),
            ..Volume::default()
        });
    }
    volumes
}

#[cfg(test)]
mod tests;
