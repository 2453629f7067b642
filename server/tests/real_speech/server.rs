//! The real whisper-server binary, started with the test model, and requests to it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::path::PathBuf;

use super::corpus;

fn server_binary() -> PathBuf {
    std::env::var_os("WHISPER_SERVER_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_whisper-server")),
        PathBuf::from,
    )
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"))
}

/// Extra server flags for a configuration under test, from $WHISPER_ACCURACY_SERVER_ARGS split
/// on whitespace: the accuracy tests then hold that configuration to their bars.
pub fn args_under_test() -> Vec<String> {
    std::env::var("WHISPER_ACCURACY_SERVER_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// One server at a time in this test binary: two whisper servers on the same cores make each
/// other's spinning threads stall, and the long-recording test fixes its thread count.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The server process; killed on drop so a failing test never leaves it behind.
pub struct Server {
    child: Child,
    base: String,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the server with tiny.en and `args`, and waits until it is ready.
    pub async fn start(client: &reqwest::Client, args: &[&str]) -> Self {
        Self::start_with_model(client, &corpus::model(), args).await
    }

    /// Starts the server with `model` and `args`, and waits until it is ready.
    pub async fn start_with_model(
        client: &reqwest::Client,
        model: &std::path::Path,
        args: &[impl AsRef<std::ffi::OsStr>],
    ) -> Self {
        let turn = ONE_AT_A_TIME.lock().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        let binary = server_binary();
        let child = Command::new(&binary)
            .arg("--model")
            .arg(model)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--log", "warn"])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _turn: turn,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("whisper-server exited at start with {status}");
            }
            let ready = client.get(format!("{}/readyz", server.base)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("whisper-server did not become ready within 120 s");
    }

    /// POSTs `wav` to /v1/audio/transcriptions with the given extra form fields; the JSON body
    /// of a 200 answer.
    pub async fn transcribe(
        &self,
        client: &reqwest::Client,
        wav: Vec<u8>,
        fields: &[(&'static str, &str)],
    ) -> serde_json::Value {
        self.post_audio(client, "transcriptions", wav, fields).await
    }

    /// POSTs `wav` to /v1/audio/translations (English text from speech in any language) with
    /// the given extra form fields; the JSON body of a 200 answer.
    pub async fn translate(
        &self,
        client: &reqwest::Client,
        wav: Vec<u8>,
        fields: &[(&'static str, &str)],
    ) -> serde_json::Value {
        self.post_audio(client, "translations", wav, fields).await
    }

    async fn post_audio(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        wav: Vec<u8>,
        fields: &[(&'static str, &str)],
    ) -> serde_json::Value {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(wav).file_name("clip.wav"),
        );
        for (name, value) in fields {
            form = form.text(*name, value.to_string());
        }
        let response = client
            .post(format!("{}/v1/audio/{endpoint}", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{endpoint} request failed: {e}"));
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("unparsable response: {e}"));
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The value of one series from /metrics, named as the exposition format writes it:
    /// `whisper_parallel_windows_total` or `whisper_fitted_context_total{outcome="kept"}`.
    pub async fn metric(&self, client: &reqwest::Client, series: &str) -> f64 {
        let text = client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("GET /metrics: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics body: {e}"));
        text.lines()
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(name, _)| *name == series)
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in /metrics"))
    }
}

/// The `text` of a JSON transcription body.
pub fn text(body: &serde_json::Value) -> String {
    body["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {body}"))
        .to_string()
}
