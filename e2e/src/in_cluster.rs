//! Pods the kind suite runs beside the operator's: a model server standing in for the internet,
//! and a one-shot client that calls a Service by its cluster DNS name. Both use the image
//! `e2e/kind/model-server-image.sh` builds (busybox httpd and wget, one model file) and meet the
//! `restricted` Pod Security Standard like every other pod of the suite.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::Api;
use kube::api::{LogParams, Patch, PatchParams, PostParams};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::error::{E2eError, Result};
use crate::paths;
use crate::wait::{self, Check};

const MANAGER: &str = "whisper-e2e";
const MODEL_SERVER: &str = "model-server";
const MODEL_SERVER_PORT: u16 = 8080;

/// The `securityContext` pair `restricted` admits: non-root, no capabilities, RuntimeDefault.
fn restricted(pod_spec: Value) -> Value {
    let mut spec = pod_spec;
    spec["securityContext"] = json!({
        "runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    });
    for c in spec["containers"].as_array_mut().into_iter().flatten() {
        c["securityContext"] = json!({
            "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
            "capabilities": {"drop": ["ALL"]},
        });
    }
    spec
}

/// The suite's helper image (`WHISPER_E2E_MODEL_SERVER_IMAGE`), loaded into the nodes.
pub fn helper_image() -> Result<String> {
    std::env::var("WHISPER_E2E_MODEL_SERVER_IMAGE").map_err(|_| E2eError::MissingEnv {
        name: "WHISPER_E2E_MODEL_SERVER_IMAGE",
        hint: "e2e/kind/run.sh builds it with e2e/kind/model-server-image.sh",
    })
}

/// Deploys `e2e/kind/model-server.yaml` in `namespace` and waits until it answers; returns the
/// model's in-cluster URL for `file_name`.
pub async fn deploy_model_server(
    cluster: &Cluster,
    namespace: &str,
    file_name: &str,
) -> Result<String> {
    let path = paths::repo_root().join("e2e/kind/model-server.yaml");
    let text = std::fs::read_to_string(&path).map_err(|source| E2eError::Io {
        what: format!("reading {}", path.display()),
        source,
    })?;
    let text = text.replace("MODEL_SERVER_IMAGE", &helper_image()?);
    let params = PatchParams::apply(MANAGER).force();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = Value::deserialize(document).map_err(|source| E2eError::Yaml {
            what: format!("parsing {}", path.display()),
            source,
        })?;
        match value["kind"].as_str() {
            Some("Deployment") => {
                let d: Deployment = from_json(value)?;
                Api::<Deployment>::namespaced(cluster.client.clone(), namespace)
                    .patch(MODEL_SERVER, &params, &Patch::Apply(&d))
                    .await?;
            }
            Some("Service") => {
                let s: Service = from_json(value)?;
                Api::<Service>::namespaced(cluster.client.clone(), namespace)
                    .patch(MODEL_SERVER, &params, &Patch::Apply(&s))
                    .await?;
            }
            other => {
                return Err(E2eError::Unexpected(format!(
                    "{}: unexpected kind {other:?}",
                    path.display()
                )));
            }
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), namespace);
    wait::until(
        "the model server to be ready",
        Duration::from_secs(120),
        || async {
            let d = deployments.get(MODEL_SERVER).await?;
            let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            Ok(if ready >= 1 {
                Check::Done(())
            } else {
                Check::NotYet(format!("{ready} ready"))
            })
        },
    )
    .await?;
    Ok(format!(
        "http://{MODEL_SERVER}.{namespace}.svc:{MODEL_SERVER_PORT}/{file_name}"
    ))
}

/// A multipart/form-data body as an OpenAI client sends it: the audio file and text fields.
pub fn multipart_body(boundary: &str, audio: &[u8], fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"speech.wav\"\r\n\
             Content-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(audio);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// POSTs `body` to `http://HOST:PORT/PATH` from a pod in `namespace`: busybox nc sends the
/// request through the Service's cluster DNS name and ClusterIP (busybox wget cannot post binary
/// data: it stops at the first NUL byte). Returns the response's status code and body.
pub async fn post_from_pod(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    (host, port, path): (&str, u16, &str),
    content_type: &str,
    body: Vec<u8>,
) -> Result<(u16, String)> {
    let image = helper_image()?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend(body);
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), namespace);
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        binary_data: Some(BTreeMap::from([(
            "request".to_string(),
            ByteString(request),
        )])),
        ..ConfigMap::default()
    };
    config_maps.create(&PostParams::default(), &cm).await?;
    // nc closes the connection when its stdin ends, before the answer: stdin stays open until
    // the answer is in.
    let script = format!(
        "(cat /request/request; while [ ! -e /tmp/done ]; do sleep 0.2; done) | \
         {{ nc {host} {port} > /tmp/response; touch /tmp/done; }}; cat /tmp/response"
    );
    let pod: Pod = from_json(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": restricted(json!({
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "containers": [{
                "name": "client", "image": image, "imagePullPolicy": "Never",
                "command": ["/bin/sh", "-c", script],
                "volumeMounts": [
                    {"name": "request", "mountPath": "/request"},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }],
            "volumes": [
                {"name": "request", "configMap": {"name": name}},
                {"name": "tmp", "emptyDir": {}},
            ],
        })),
    }))?;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    pods.create(&PostParams::default(), &pod).await?;
    let phase = wait::until(
        &format!("client pod {name} to finish"),
        Duration::from_secs(180),
        || async {
            let p = pods.get(name).await?;
            let phase = p.status.and_then(|s| s.phase).unwrap_or_default();
            Ok(match phase.as_str() {
                "Succeeded" | "Failed" => Check::Done(phase),
                _ => Check::NotYet(phase),
            })
        },
    )
    .await?;
    let log = pods.logs(name, &LogParams::default()).await?;
    if phase != "Succeeded" {
        return Err(E2eError::Unexpected(format!(
            "client pod {name} failed: {log}"
        )));
    }
    parse_response(&log).ok_or_else(|| {
        E2eError::Unexpected(format!("client pod {name}: not an HTTP response: {log:?}"))
    })
}

/// The status code and body of a raw HTTP/1.1 response, as read back from a pod's log (which
/// keeps the `\n` of each line and drops the `\r`).
fn parse_response(raw: &str) -> Option<(u16, String)> {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n")?;
    let status = head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|source| E2eError::Json {
        what: "building a manifest".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_body_carries_fields_then_the_file_and_closes() {
        let body = multipart_body("XX", b"RIFF", &[("model", "whisper-1")]);
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(
            "--XX\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
        ));
        assert!(
            text.contains("filename=\"speech.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n")
        );
        assert!(text.ends_with("--XX--\r\n"));
    }

    #[test]
    fn raw_responses_give_status_and_body() {
        let raw = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
        assert_eq!(parse_response(raw), Some((200, "{}".to_string())));
        let logged = "HTTP/1.1 400 Bad Request\ncontent-length: 2\n\n{}";
        assert_eq!(parse_response(logged), Some((400, "{}".to_string())));
        assert_eq!(parse_response("garbage"), None);
    }
}
