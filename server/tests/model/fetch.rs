//! `fetch_model` against a real HTTP server on 127.0.0.1 that each test starts itself.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use sha2::{Digest, Sha256};
use whisper_server::model::{FetchError, FetchOutcome, fetch_model};

const BODY: &[u8] = b"pretend these are 64 bytes of ggml model weights, give or take..";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serves `BODY` at /model.bin and 404 elsewhere; counts the requests it answers.
struct Server {
    base: String,
    requests: Arc<AtomicUsize>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                serve(stream);
            }
        });
        Server { base, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = if path == "/model.bin" {
        ("200 OK", BODY)
    } else {
        ("404 Not Found", &b"not found"[..])
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn good_hash_downloads_once_then_skips() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = dir.path().join("ggml-tiny.en.bin");
    let sha = sha256_hex(BODY);

    let first = fetch_model(&server.url("/model.bin"), &sha, &dest).expect("download");
    assert_eq!(
        first,
        FetchOutcome::Downloaded {
            bytes: BODY.len() as u64
        }
    );
    assert_eq!(std::fs::read(&dest).expect("read"), BODY);

    let second = fetch_model(&server.url("/model.bin"), &sha.to_uppercase(), &dest).expect("skip");
    assert_eq!(second, FetchOutcome::AlreadyPresent);
    assert_eq!(
        server.requests(),
        1,
        "a verified file is not downloaded again"
    );
    assert_eq!(dir_entries(dir.path()), vec!["ggml-tiny.en.bin"]);
}

#[test]
fn stale_destination_is_replaced() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = dir.path().join("model.bin");
    std::fs::write(&dest, b"an older, different model").expect("write");
    let outcome = fetch_model(&server.url("/model.bin"), &sha256_hex(BODY), &dest).expect("fetch");
    assert!(matches!(outcome, FetchOutcome::Downloaded { .. }));
    assert_eq!(std::fs::read(&dest).expect("read"), BODY);
}

#[test]
fn bad_hash_leaves_nothing_behind() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = dir.path().join("model.bin");
    let wrong = "0".repeat(64);
    let err = fetch_model(&server.url("/model.bin"), &wrong, &dest).expect_err("mismatch");
    match &err {
        FetchError::ChecksumMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, &wrong);
            assert_eq!(actual, &sha256_hex(BODY));
        }
        other => panic!("expected a checksum mismatch, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&wrong) && message.contains(&sha256_hex(BODY)),
        "{message}"
    );
    assert!(
        dir_entries(dir.path()).is_empty(),
        "temp file removed, nothing renamed"
    );
}

#[test]
fn not_found_is_an_http_status_error() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = dir.path().join("model.bin");
    let err = fetch_model(&server.url("/missing.bin"), &sha256_hex(BODY), &dest).expect_err("404");
    assert!(
        matches!(err, FetchError::HttpStatus { status: 404, .. }),
        "{err}"
    );
    assert!(dir_entries(dir.path()).is_empty());
}

#[test]
fn connection_refused_is_an_http_error() {
    // Bind and drop a listener: nothing answers on that port afterwards.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("http://127.0.0.1:{port}/model.bin");
    let err = fetch_model(&url, &sha256_hex(BODY), &dir.path().join("m.bin")).expect_err("refused");
    assert!(matches!(err, FetchError::Http { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    assert!(dir_entries(dir.path()).is_empty());
}

#[test]
fn https_handshake_failure_is_an_http_error() {
    // A plain-HTTP server cannot complete a TLS handshake: this exercises the TLS set-up (ring
    // provider, platform verifier) and proves a failed handshake is an error, not a panic.
    let server = Server::start();
    let url = server.url("/model.bin").replacen("http://", "https://", 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let err = fetch_model(&url, &sha256_hex(BODY), &dir.path().join("m.bin")).expect_err("tls");
    assert!(matches!(err, FetchError::Http { .. }), "{err}");
    assert!(dir_entries(dir.path()).is_empty());
}

#[test]
fn file_urls_are_copied_and_verified() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source.bin");
    std::fs::write(&source, BODY).expect("write");
    let dest = dir.path().join("dest").join("model.bin");
    std::fs::create_dir(dest.parent().expect("parent")).expect("mkdir");
    let url = format!("file://{}", source.display());
    let outcome = fetch_model(&url, &sha256_hex(BODY), &dest).expect("copy");
    assert!(matches!(outcome, FetchOutcome::Downloaded { .. }));
    assert_eq!(std::fs::read(&dest).expect("read"), BODY);

    let missing = format!("file://{}", dir.path().join("nope.bin").display());
    let err =
        fetch_model(&missing, &sha256_hex(BODY), &dest.with_extension("x")).expect_err("missing");
    assert!(matches!(err, FetchError::Read { .. }), "{err}");
}

#[test]
fn malformed_digest_and_scheme_are_rejected_before_any_request() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = dir.path().join("model.bin");
    let err = fetch_model(&server.url("/model.bin"), "not-a-digest", &dest).expect_err("digest");
    assert!(matches!(err, FetchError::BadDigest { .. }));
    let err =
        fetch_model("ftp://127.0.0.1/model.bin", &sha256_hex(BODY), &dest).expect_err("scheme");
    assert!(matches!(err, FetchError::UnsupportedUrl { .. }));
    assert_eq!(server.requests(), 0);
}
