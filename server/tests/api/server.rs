//! In-process servers on 127.0.0.1 with the real model, each on its own runtime thread so it
//! outlives any single test's runtime.

use std::sync::OnceLock;

use clap::Parser;
use reqwest::multipart::{Form, Part};
use whisper_server::config::Cli;

use crate::fixtures;

pub const API_KEY: &str = "test-key";

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
}

/// Starts a server with the test model and these extra flags.
pub fn start(flags: &[&str]) -> TestServer {
    let model = fixtures::model();
    let mut argv = vec![
        "whisper-server",
        "--model",
        model.to_str().unwrap_or_default(),
    ];
    // One inference thread: the test servers share two CPUs with each other and the build.
    argv.extend_from_slice(&["--threads", "1"]);
    argv.extend_from_slice(flags);
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("bad test flags: {e}"));
    let state = whisper_server::serve::build_state(&cli.serve)
        .unwrap_or_else(|e| panic!("cannot build state: {e}"));
    whisper_server::serve::load_model(&state, &cli.serve, &model)
        .unwrap_or_else(|e| panic!("cannot load model: {e}"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("bind: {e}"));
            let _ = tx.send(listener.local_addr());
            let limits = whisper_server::serve::edge_limits(&cli.serve);
            let app = whisper_server::app::app(state);
            whisper_server::edge::serve(listener, app, limits, std::future::pending()).await;
        });
    });
    let addr = rx
        .recv()
        .unwrap_or_else(|e| panic!("server thread died: {e}"))
        .unwrap_or_else(|e| panic!("no address: {e}"));
    TestServer {
        base: format!("http://{addr}"),
        client: client(),
    }
}

/// The server most tests share: one slot, a deep queue, an API key, small limits.
pub fn shared() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        start(&[
            "--queue",
            "64",
            "--api-key",
            API_KEY,
            "--max-upload-bytes",
            "5000000",
            "--max-audio-seconds",
            "60",
        ])
    })
}

impl TestServer {
    /// `host:port`, for raw socket clients.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `file` (named `filename`) plus text fields to an audio endpoint, with the API key.
    pub async fn post_audio(
        &self,
        path: &str,
        file: Vec<u8>,
        filename: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = Form::new().part("file", Part::bytes(file).file_name(filename.to_string()));
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        self.client
            .post(self.url(path))
            .bearer_auth(API_KEY)
            .multipart(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"))
    }

    /// The value of one series of a metric, from the text exposition parsed properly.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let samples = self.metrics().await;
        samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.last().map_or(0.0, |b| b.count)
                }
                prometheus_parse::Value::Summary(_) => 0.0,
            })
            .sum()
    }

    pub async fn metrics(&self) -> Vec<prometheus_parse::Sample> {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("metrics: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("metrics body: {e}"));
        let lines = text.lines().map(|l| Ok(l.to_string()));
        prometheus_parse::Scrape::parse(lines)
            .unwrap_or_else(|e| panic!("unparsable /metrics: {e}"))
            .samples
    }
}

/// A client that opens a connection per request: the server closes a connection after
/// answering without reading an oversized or unauthorised body, and a pooled connection
/// would race that close.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"))
}
