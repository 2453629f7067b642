//! Tests of the built `whisper-server` binary as a process: graceful SIGTERM and aborting the
//! inference of a client that went away.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::{self, EXPECTED, normalise};

struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only reached when a test failed half-way: never leave the process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

async fn spawn(flags: &[&str]) -> Server {
    let port = free_port();
    // One thread unless the test says otherwise: the test servers share two CPUs with each
    // other and the build.
    let default_threads: &[&str] = if flags.contains(&"--threads") {
        &[]
    } else {
        &["--threads", "1"]
    };
    let child = Command::new(env!("CARGO_BIN_EXE_whisper-server"))
        .arg("--model")
        .arg(fixtures::model())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--log", "warn"])
        .args(default_threads)
        .args(flags)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start whisper-server: {e}"));
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ready = server
            .client
            .get(format!("{}/readyz", server.base))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("whisper-server did not become ready within 60 s");
}

impl Server {
    /// Sends a long transcription and returns once it holds an inference slot.
    async fn start_long_request(
        &self,
    ) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
        let request = tokio::spawn(self.long_request().send());
        self.wait_for(
            "whisper_inflight_requests",
            &[],
            1.0,
            Duration::from_secs(30),
        )
        .await;
        request
    }

    fn long_request(&self) -> reqwest::RequestBuilder {
        self.request_for("long.wav")
    }

    fn request_for(&self, fixture: &str) -> reqwest::RequestBuilder {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(fixtures::bytes(fixture))
                .file_name(fixture.to_string()),
        );
        self.client
            .post(format!("{}/v1/audio/transcriptions", self.base))
            .multipart(form)
    }

    async fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .text()
            .await
            .unwrap_or_default();
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
            .unwrap_or_else(|e| panic!("unparsable /metrics: {e}"));
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) => v,
                _ => 0.0,
            })
            .sum()
    }

    /// Polls until the gauge is at least `value`, failing after `within`; returns what it read.
    async fn wait_until_at_least(&self, name: &str, value: f64, within: Duration) -> f64 {
        let deadline = Instant::now() + within;
        loop {
            let now = self.gauge(name, &[]).await;
            if now >= value {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "{name} stayed at {now}, below {value}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls until the gauge reaches `value`, failing after `within`.
    async fn wait_for(&self, name: &str, labels: &[(&str, &str)], value: f64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.gauge(name, labels).await;
            if now == value {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} stayed at {now}, expected {value}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn sigterm_fails_readiness_finishes_inflight_request_and_exits_zero() {
    let mut server = spawn(&["--shutdown-grace-seconds", "120"]).await;
    let request = server.start_long_request().await;

    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM failed");

    // `kill` returns once the signal is queued; on a loaded machine the server's handler may
    // run a little later, so poll briefly (it must turn 503 well before the request ends).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let readyz = server
            .client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("readyz after SIGTERM: {e}"));
        if readyz.status() == 503 {
            // Draining: the connection is closed after each answer, so that a client's next
            // request goes to a pod that stays.
            assert_eq!(
                readyz.headers().get("connection").map(|v| v.as_bytes()),
                Some(&b"close"[..]),
                "a response while draining keeps its connection open"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still answered {} 10 s after SIGTERM",
            readyz.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !request.is_finished(),
        "the long request ended before readiness turned 503: the drain was not observed"
    );

    let response = request
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("in-flight request failed during shutdown: {e}"));
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..]),
        "the in-flight request's answer keeps its connection open"
    );
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let text = normalise(body["text"].as_str().unwrap_or_default());
    assert!(text.starts_with(&normalise(EXPECTED)), "{text}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit after draining"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn client_disconnect_aborts_inference_and_frees_the_slot() {
    let server = spawn(&["--slots", "1", "--queue", "1"]).await;
    let request = server.start_long_request().await;
    // Let inference get going, then hang up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    request.abort();
    let _ = request.await;

    let closed = [("endpoint", "transcriptions"), ("reason", "client_closed")];
    server
        .wait_for(
            "whisper_transcription_errors_total",
            &closed,
            1.0,
            Duration::from_secs(5),
        )
        .await;
    // whisper.cpp checks the abort flag after each encoder pass and decoder step: one pass can
    // take seconds on a loaded 2-core machine, the whole clip many times that.
    server
        .wait_for(
            "whisper_inflight_requests",
            &[],
            0.0,
            Duration::from_secs(30),
        )
        .await;

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(fixtures::bytes("speech.wav")).file_name("speech.wav"),
    );
    let response = server
        .client
        .post(format!("{}/v1/audio/transcriptions", server.base))
        .multipart(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(
        normalise(body["text"].as_str().unwrap_or_default()),
        normalise(EXPECTED)
    );
}

/// A process that keeps one core busy until dropped.
struct CpuHog(Child);

impl CpuHog {
    fn start() -> Self {
        let child = Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start a CPU hog: {e}"));
        Self(child)
    }
}

impl Drop for CpuHog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// Threads a request for `fixture` runs with, read from `whisper_inference_threads` while
    /// it is in flight, once they reach `at_least` (a grant can grow right after it is made).
    async fn threads_of_a_request_for(&self, fixture: &str, at_least: f64) -> f64 {
        let request = tokio::spawn(self.request_for(fixture).send());
        let threads = self
            .wait_until_at_least(
                "whisper_inference_threads",
                at_least,
                Duration::from_secs(60),
            )
            .await;
        let response = request
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200);
        threads
    }
}

/// Beside a process that keeps a core busy, a request of one window gets one thread fewer than
/// the budget (whisper.cpp's spinning threads collapse when one lacks a core); with the
/// adaptation off it gets the whole budget, which shows the check can fail. Long audio decodes
/// its windows on single-threaded states, which do not stall each other, so it may also use the
/// busy core: one thread per state, up to the budget, and so does a clip of 15-30 s, which is
/// cut in two.
#[tokio::test]
async fn a_busy_core_elsewhere_costs_a_request_one_thread() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if cpus < 2 {
        eprintln!("skipped: one CPU leaves nothing to adapt");
        return;
    }
    let budget = cpus.to_string();
    let _hog = CpuHog::start();
    // Clips of 15-30 s are cut in two by default; from 30 s the 27 s clip is one window.
    let one_window = ["--windows-from-seconds", "30"];
    let adaptive = spawn(&[&["--threads", budget.as_str()][..], &one_window].concat()).await;
    let fixed = spawn(
        &[
            &[
                "--threads",
                budget.as_str(),
                "--adapt-threads-to-load",
                "false",
            ][..],
            &one_window,
        ]
        .concat(),
    )
    .await;
    let cut_in_two = spawn(&["--threads", &budget]).await;
    // The sampler needs a second or two to see the hog.
    adaptive
        .wait_until_at_least(
            "whisper_cpu_busy_elsewhere_cores",
            0.7,
            Duration::from_secs(30),
        )
        .await;

    let threads = adaptive
        .threads_of_a_request_for("half_minute.wav", 1.0)
        .await;
    assert!(
        (1.0..=(cpus - 1) as f64).contains(&threads),
        "with a core busy elsewhere a request should get at most {} threads, got {threads}",
        cpus - 1
    );
    assert_eq!(
        fixed.threads_of_a_request_for("half_minute.wav", 1.0).await,
        cpus as f64
    );
    // 144 s: five windows, on as many states as the default slots (one per thread, at most 4).
    let expected = threads.max(cpus.min(4).min(5) as f64);
    let long = adaptive
        .threads_of_a_request_for("long.wav", expected)
        .await;
    assert_eq!(
        long, expected,
        "long audio beside a busy core: one thread per state at least"
    );
    cut_in_two
        .wait_until_at_least(
            "whisper_cpu_busy_elsewhere_cores",
            0.7,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(
        cut_in_two
            .threads_of_a_request_for("half_minute.wav", 2.0)
            .await,
        2.0,
        "a 27 s clip cut in two beside a busy core: a thread for each window's state"
    );
}

/// A model file cut short exits the process with an error naming the file and where it ends,
/// both when the server quantises it while loading (the default) and when whisper.cpp reads it.
#[tokio::test]
async fn a_truncated_model_file_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = std::fs::read(fixtures::model()).expect("read the test model");
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &model[..model.len() / 2]).expect("write the cut model");
    for (weights, says) in [
        ("q8_0", "could not quantise the model"),
        ("f16", "could not load the model"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_whisper-server"))
            .arg("--model")
            .arg(&cut)
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--weights", weights, "--log", "warn"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot start whisper-server: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "--weights {weights}: {stderr}");
        assert!(stderr.contains(says), "--weights {weights}: {stderr}");
        assert!(stderr.contains("cut.bin"), "--weights {weights}: {stderr}");
    }
}
