//! Processes and HTTP for the live test: the real server and Prometheus as child processes that
//! are killed when dropped (panics included), and small polling and API helpers.

use std::fs::File;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use whisper_monitoring::{TestTargets, rewrite_for_test};

/// A child process killed and reaped on drop; its log is printed if the test is panicking.
pub struct Running {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Running {
    fn spawn(name: &'static str, command: &mut Command, dir: &Path) -> Running {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({:?}): {e}", command.get_program()));
        Running { name, child, log }
    }

    /// Panics with the log if the process has already exited.
    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early ({status}):\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- last lines of {} log ---", self.name);
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("WHISPER_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let candidates = [
        target.join("release/whisper-server"),
        target.join("debug/whisper-server"),
    ];
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
        panic!(
            "no whisper-server binary: set WHISPER_SERVER_BIN or run `cargo build -p whisper-server` \
             (looked at {candidates:?})"
        )
    })
}

fn model() -> PathBuf {
    if let Some(path) = std::env::var_os("WHISPER_TEST_MODEL") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/whisper-operator");
    let candidates = [
        cache.join("models/ggml-tiny.en.bin"),
        cache.join("dev/ggml-tiny.en.reference.bin"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no ggml model: set WHISPER_TEST_MODEL or import tiny.en (looked at {candidates:?})"
            )
        })
}

/// Polls `check` every 250 ms until it yields a value; panics after `timeout` saying what it
/// waited for.
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// GET a Prometheus API endpoint; its JSON body when `status` is `success`.
pub async fn api_get(
    http: &reqwest::Client,
    url: &str,
    params: &[(&str, &str)],
) -> Result<serde_json::Value, String> {
    let response = http
        .get(url)
        .query(params)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    if body["status"] == "success" {
        Ok(body)
    } else {
        Err(format!("{} {}", body["errorType"], body["error"]))
    }
}

/// "Hello world. The quick brown fox...", spoken by flite and converted by sox twice: to 16 kHz
/// mono (what the model takes) and to 44.1 kHz stereo (so the server must downmix and resample).
pub fn speech_wavs(dir: &Path) -> (PathBuf, PathBuf) {
    let run = |command: &mut Command| {
        let program = command.get_program().to_string_lossy().into_owned();
        let status = command.status().unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install the Debian packages flite and sox")
        });
        assert!(status.success(), "{program} failed: {status}");
    };
    let raw = dir.join("raw.wav");
    let text = "Hello world. The quick brown fox jumps over the lazy dog.";
    run(Command::new("flite")
        .args(["-voice", "rms", "-t", text, "-o"])
        .arg(&raw));
    let convert = |name: &str, rate: &str, channels: &str| {
        let out = dir.join(name);
        run(Command::new("sox")
            .arg(&raw)
            .args(["-r", rate, "-c", channels, "-b", "16"])
            .arg(&out));
        out
    };
    (
        convert("speech-16k-mono.wav", "16000", "1"),
        convert("speech-44k-stereo.wav", "44100", "2"),
    )
}

/// Deterministic bytes that are no audio format (xorshift), as a broken upload.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

pub struct Server {
    pub address: String,
    process: Running,
}

impl Server {
    /// Starts the real server on a free loopback port and waits until /readyz says the model is
    /// loaded.
    pub fn start(dir: &Path) -> Server {
        let address = format!("127.0.0.1:{}", free_port());
        let process = Running::spawn(
            "whisper-server",
            Command::new(server_binary())
                .arg("--model")
                .arg(model())
                // One thread: under CPU contention ggml's spinning threads are a cliff, not a slope.
                .args(["--listen", &address, "--threads", "1", "--log", "info"]),
            dir,
        );
        let mut server = Server { address, process };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let url = format!("http://{}/readyz", self.address);
        let start = Instant::now();
        loop {
            self.process.assert_alive();
            let ready = std::net::TcpStream::connect(&self.address).is_ok()
                && blocking_get_status(&url) == Some(200);
            if ready {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "whisper-server not ready after 120 s:\n{}",
                self.process.log_text()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A good transcription: must succeed and say what flite said.
    pub async fn transcribe(&self, http: &reqwest::Client, wav: &Path) {
        let bytes = std::fs::read(wav).expect("read speech");
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("speech.wav")
            .mime_str("audio/wav")
            .expect("mime");
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("model", "whisper-1");
        let response = http
            .post(self.url("/v1/audio/transcriptions"))
            .multipart(form)
            .send()
            .await
            .expect("transcription request");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "good transcription failed: {status} {body}"
        );
        assert!(
            body.to_lowercase().contains("quick brown fox"),
            "unexpected transcript: {body}"
        );
    }

    /// `count` uploads of random bytes: each must be refused with a 4xx.
    pub async fn transcribe_noise(&self, http: &reqwest::Client, count: usize) {
        for i in 0..count {
            let part =
                reqwest::multipart::Part::bytes(noise(4096, i as u64 + 1)).file_name("noise.wav");
            let form = reqwest::multipart::Form::new()
                .part("file", part)
                .text("model", "whisper-1");
            let response = http
                .post(self.url("/v1/audio/transcriptions"))
                .multipart(form)
                .send()
                .await
                .expect("bad transcription request");
            let status = response.status();
            assert!(
                status.is_client_error(),
                "random bytes should be refused with 4xx, got {status}"
            );
        }
    }

    /// The server's own /metrics page.
    pub async fn metrics(&self, http: &reqwest::Client) -> String {
        let response = http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics");
        assert!(
            response.status().is_success(),
            "/metrics: {}",
            response.status()
        );
        response.text().await.expect("metrics body")
    }
}

/// Status code of a GET over a plain TCP HTTP/1.0 exchange (used before the async client is
/// needed, from a synchronous wait loop).
fn blocking_get_status(url: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}")))?;
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

pub struct Prometheus {
    base: String,
    _process: Running,
}

impl Prometheus {
    /// Starts Prometheus on a free loopback port with the shipped config pointed at `api`, the
    /// shipped alert rules, 1 s scrape and evaluation intervals and a temporary TSDB.
    pub fn start(dir: &Path, api: &str) -> Prometheus {
        let address = format!("127.0.0.1:{}", free_port());
        let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("alert_rules.yml");
        let config = rewrite_for_test(
            whisper_monitoring::PROMETHEUS_YML,
            &TestTargets {
                api,
                prometheus: &address,
                interval: "1s",
                rule_file: &rules.to_string_lossy(),
            },
        )
        .expect("rewrite prometheus.yml");
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let mut process = Running::spawn(
            "prometheus",
            Command::new("prometheus")
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address={address}"))
                .arg("--log.level=warn"),
            dir,
        );
        let ready = format!("http://{address}/-/ready");
        let start = Instant::now();
        while blocking_get_status(&ready) != Some(200) {
            process.assert_alive();
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "Prometheus not ready after 60 s (is the Debian package prometheus installed?):\n{}",
                process.log_text()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        Prometheus {
            base: format!("http://{address}"),
            _process: process,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
