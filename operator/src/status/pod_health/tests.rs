use serde_json::{Value, json};

use super::*;

/// A server pod with the given init and server container statuses, as the kubelet reports them.
fn pod(name: &str, init: Value, server: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "status": {
            "initContainerStatuses": [init],
            "containerStatuses": [server],
        }
    }))
    .expect("pod literal")
}

fn status(name: &str, state: Value, last: Value, ready: bool, restarts: i32) -> Value {
    json!({
        "name": name, "image": "img:1", "imageID": "", "ready": ready,
        "restartCount": restarts, "state": state, "lastState": last,
    })
}

fn waiting(reason: &str, message: &str) -> Value {
    json!({"waiting": {"reason": reason, "message": message}})
}

fn terminated(code: i32, message: &str) -> Value {
    json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }, "message": message}})
}

fn init_done() -> Value {
    status("fetch-model", terminated(0, ""), json!({}), true, 0)
}

fn server_waiting() -> Value {
    status(
        "whisper-server",
        waiting("PodInitializing", ""),
        json!({}),
        false,
        0,
    )
}

#[test]
fn a_failed_download_is_reported_with_the_end_of_its_log() {
    let init = status(
        "fetch-model",
        waiting(
            "CrashLoopBackOff",
            "back-off 10s restarting failed container",
        ),
        terminated(
            1,
            "INFO fetching\nError: model download failed\n\nCaused by:\n    http://models/x.bin: server answered HTTP 404\n",
        ),
        false,
        2,
    );
    let health = diagnose(&[pod("p-1", init, server_waiting())]);
    let PodHealth::Failing(t) = health else {
        panic!("not a failure: {health:?}")
    };
    assert_eq!(t.reason, Reason::ModelDownloadFailed);
    assert_eq!(
        t.message,
        "pod p-1: the model download failed: exit code 1: model download failed: http://models/x.bin: server answered HTTP 404"
    );
}

#[test]
fn a_running_download_then_a_loading_server_are_progress_not_failures() {
    let running = json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}});
    let downloading = pod(
        "p-1",
        status("fetch-model", running.clone(), json!({}), false, 0),
        server_waiting(),
    );
    assert!(matches!(
        diagnose(std::slice::from_ref(&downloading)),
        PodHealth::ModelDownloading(m) if m == "pod p-1 is downloading and verifying the model"
    ));
    let loading = pod(
        "p-2",
        init_done(),
        status("whisper-server", running, json!({}), false, 0),
    );
    assert!(matches!(
        diagnose(std::slice::from_ref(&loading)),
        PodHealth::ModelLoading(m) if m == "pod p-2 is loading the model"
    ));
    // Downloading is further from ready than loading, so it is what the user sees.
    assert!(matches!(
        diagnose(&[loading, downloading]),
        PodHealth::ModelDownloading(_)
    ));
}

#[test]
fn image_pull_and_crash_loops_are_failures_and_win_over_progress() {
    let pull = pod(
        "p-1",
        status(
            "fetch-model",
            waiting("ImagePullBackOff", "Back-off pulling image \"img:1\""),
            json!({}),
            false,
            0,
        ),
        server_waiting(),
    );
    assert!(matches!(
        diagnose(std::slice::from_ref(&pull)),
        PodHealth::Failing(t) if t.reason == Reason::ImagePullFailed
            && t.message == "pod p-1: image img:1 of container fetch-model: Back-off pulling image \"img:1\""
    ));
    let crash = pod(
        "p-2",
        init_done(),
        status(
            "whisper-server",
            waiting("CrashLoopBackOff", ""),
            terminated(1, "Error: cannot load /models/model.bin: not a ggml file"),
            false,
            4,
        ),
    );
    let loading = pod(
        "p-3",
        init_done(),
        status(
            "whisper-server",
            json!({"running": {}}),
            json!({}),
            false,
            0,
        ),
    );
    assert!(matches!(
        diagnose(&[loading, crash]),
        PodHealth::Failing(t) if t.reason == Reason::ServerCrashLooping
            && t.message == "pod p-2: whisper-server exited 4 times: exit code 1: cannot load /models/model.bin: not a ggml file"
    ));
}

#[test]
fn ready_pending_and_terminating_pods_are_unremarkable() {
    let ready = pod(
        "p-1",
        init_done(),
        status("whisper-server", json!({"running": {}}), json!({}), true, 0),
    );
    let pending: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p-2"}, "status": {"phase": "Pending"}}),
    )
    .expect("pod literal");
    let mut leaving = pod(
        "p-3",
        status(
            "fetch-model",
            waiting("CrashLoopBackOff", ""),
            terminated(1, "x"),
            false,
            1,
        ),
        server_waiting(),
    );
    leaving.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
    assert_eq!(
        diagnose(&[ready, pending, leaving]),
        PodHealth::Unremarkable
    );
}

#[test]
fn long_messages_are_shortened() {
    let long = "x".repeat(1000);
    assert_eq!(
        last_lines("Error: a\n\nCaused by:\n    0: b\n    1: c: d\n"),
        "a: b: c: d"
    );
    assert_eq!(last_lines("one\ntwo\nthree\n"), "two three");
    let init = status(
        "fetch-model",
        waiting("CrashLoopBackOff", ""),
        terminated(1, &long),
        false,
        1,
    );
    let PodHealth::Failing(t) = diagnose(&[pod("p", init, server_waiting())]) else {
        panic!("not a failure")
    };
    assert!(
        t.message.ends_with("...") && t.message.len() < 400,
        "{}",
        t.message.len()
    );
}
