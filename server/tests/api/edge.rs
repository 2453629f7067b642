//! The HTTP edge against raw socket clients: slow heads, idle keep-alives and trickled uploads
//! are cut off on their timers; connections past the cap get a quick 503; and every error the
//! framework or hyper answers has the API's JSON body and is counted where it hit an endpoint.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::{TestServer, start};

/// A server of its own with short timers, so no test waits long.
fn timed_server() -> TestServer {
    start(&[
        "--header-read-timeout-seconds",
        "1",
        "--keep-alive-idle-seconds",
        "3",
        "--upload-timeout-seconds",
        "1",
        "--min-upload-bytes-per-second",
        "1000",
    ])
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.addr())
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// Reads until the server closes the connection (or `limit` passes); returns what came and when
/// the close came.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&received).into(),
                    Some(started.elapsed()),
                );
            }
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), None),
        }
    }
}

/// Reads one response whose body length is given by `content-length`.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_string)
                })
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no full response within 10 s: {text:?}"))
            .unwrap_or_else(|e| panic!("read: {e}"));
        assert!(n > 0, "closed before a full response: {text:?}");
        received.extend_from_slice(&buf[..n]);
    }
}

/// The JSON error code of a raw response, after checking it is OpenAI-shaped.
fn error_code(response: &str) -> String {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "not JSON: {head}"
    );
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("bad JSON body {body:?}: {e}"));
    assert!(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{json}"
    );
    assert!(json["error"]["type"].is_string(), "{json}");
    json["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

#[tokio::test]
async fn a_head_that_never_completes_is_dropped_after_the_header_timeout() {
    let server = timed_server();
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let closed = closed.unwrap_or_else(|| panic!("a half-sent head was still open after 10 s"));
    assert!(
        closed >= Duration::from_millis(900) && closed < Duration::from_secs(3),
        "closed after {closed:?}, the header timeout is 1 s"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_lives_past_the_header_timeout_until_its_idle_timeout() {
    let server = timed_server();
    let mut stream = connect(&server).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    stream
        .write_all(request)
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    assert_eq!(status_of(&read_response(&mut stream).await), 200);
    // Idle for twice the header timeout, well within the keep-alive one: still served.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stream
        .write_all(request)
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    assert_eq!(status_of(&read_response(&mut stream).await), 200);
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let closed = closed.unwrap_or_else(|| panic!("an idle connection was still open after 10 s"));
    assert!(
        closed >= Duration::from_millis(2900) && closed < Duration::from_secs(5),
        "closed after {closed:?}, the keep-alive idle timeout is 3 s"
    );
}

#[tokio::test]
async fn an_upload_trickled_a_byte_at_a_time_gets_408_in_json() {
    let server = timed_server();
    let mut stream = connect(&server).await;
    let head = "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n\
                content-type: multipart/form-data; boundary=b\r\ntransfer-encoding: chunked\r\n\r\n";
    stream
        .write_all(head.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let started = Instant::now();
    // The server answers while the client is still sending: read and write on split halves.
    let (mut reader, mut writer) = stream.split();
    let part =
        b"--b\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF";
    let trickle = async {
        for byte in part.iter().cycle() {
            let chunk = format!("1\r\n{}\r\n", *byte as char);
            if writer.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if started.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
    };
    let mut received = Vec::new();
    // The answer ends with the server's end of stream; the server reads on for a while after
    // it (lingering close), so the trickle may still be going then.
    let read = async {
        let _ = reader.read_to_end(&mut received).await;
        started.elapsed()
    };
    tokio::pin!(read);
    let took = tokio::select! {
        took = &mut read => took,
        () = trickle => read.await,
    };
    let response = String::from_utf8_lossy(&received).to_string();
    assert_eq!(status_of(&response), 408, "{response}");
    assert_eq!(error_code(&response), "upload_timeout");
    assert!(
        took < Duration::from_secs(5),
        "408 came after {took:?}, the upload timeout is 1 s"
    );
    let counted = server
        .metric(
            "whisper_transcription_errors_total",
            &[("endpoint", "transcriptions"), ("reason", "upload_timeout")],
        )
        .await;
    assert_eq!(counted, 1.0);
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_get_503_while_open_ones_are_served() {
    let server = start(&["--max-connections", "2"]);
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    // Let the server accept both before the third arrives.
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status_of(&read_response(&mut first).await), 200);
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status_of(&read_response(&mut second).await), 200);

    let started = Instant::now();
    let mut third = connect(&server).await;
    let (response, closed) = read_until_closed(&mut third, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the connection over the cap stayed open");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "503 took {:?}",
        started.elapsed()
    );
    assert_eq!(status_of(&response), 503, "{response}");
    assert_eq!(error_code(&response), "too_many_connections");

    // The open connections are still served, and a freed place admits a new one.
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status_of(&read_response(&mut first).await), 200);
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut fourth = connect(&server).await;
        fourth
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (response, _) = read_until_closed(&mut fourth, Duration::from_millis(500)).await;
        if status_of(&response) == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no place freed 5 s after a connection closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `request` raw and returns the response.
async fn exchange(server: &TestServer, request: &[u8]) -> String {
    let mut stream = connect(server).await;
    stream
        .write_all(request)
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    read_response(&mut stream).await
}

#[tokio::test]
async fn every_error_the_framework_or_hyper_answers_is_openai_json() {
    let server = start(&[]);
    let long_uri = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("x-h{i}: v\r\n"))
            .collect::<String>()
    );
    let cases: [(&str, Vec<u8>, u16, &str); 6] = [
        (
            "unknown path",
            b"GET /v2/nothing HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            404,
            "not_found",
        ),
        (
            "PUT on the transcription endpoint",
            b"PUT /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\ncontent-length: 0\r\n\r\n".to_vec(),
            405,
            "method_not_allowed",
        ),
        ("a 100 KB URI", long_uri.into_bytes(), 414, "uri_too_long"),
        ("200 headers", many_headers.into_bytes(), 431, "headers_too_large"),
        (
            "not HTTP",
            b"HELLO\x01 WORLD\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "a body that is not multipart",
            b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
            400,
            "bad_request",
        ),
    ];
    for (what, request, status, code) in cases {
        let response = exchange(&server, &request).await;
        assert_eq!(status_of(&response), status, "{what}: {response}");
        assert_eq!(error_code(&response), code, "{what}");
    }
    // The 405 keeps the framework's Allow header, and counts on its endpoint.
    let response = exchange(
        &server,
        b"PUT /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\ncontent-length: 0\r\n\r\n",
    )
    .await;
    assert!(
        response.to_ascii_lowercase().contains("allow: post"),
        "{response}"
    );
    let counted = server
        .metric(
            "whisper_transcription_errors_total",
            &[
                ("endpoint", "transcriptions"),
                ("reason", "method_not_allowed"),
            ],
        )
        .await;
    assert_eq!(counted, 2.0);
}

/// An answer sent before the upload was read (a bad field ahead of the file; a file over the
/// byte limit) reaches a real client that is still sending, instead of a connection reset: the
/// edge shuts its side and reads on a while before closing (`lingering_close`).
#[tokio::test]
async fn an_answer_sent_before_the_upload_was_read_reaches_a_client_still_sending() {
    use reqwest::multipart::{Form, Part};

    let server = crate::server::shared();
    let client = crate::server::client();
    // Over the shared server's 5 MB limit, and more than the sockets' buffers hold.
    let upload = vec![0u8; 12_000_000];
    for (field, status) in [(Some(("response_format", "mp5")), 400), (None, 413)] {
        for attempt in 0..5 {
            let mut form = Form::new();
            if let Some((name, value)) = field {
                form = form.text(name, value);
            }
            let form = form.part("file", Part::bytes(upload.clone()).file_name("big.wav"));
            let response = client
                .post(server.url("/v1/audio/transcriptions"))
                .bearer_auth(crate::server::API_KEY)
                .multipart(form)
                .send()
                .await
                .unwrap_or_else(|e| panic!("try {attempt}, due {status}: no answer: {e:?}"));
            assert_eq!(response.status().as_u16(), status, "try {attempt}");
            let body: serde_json::Value = response.json().await.expect("a JSON error body");
            assert!(body["error"]["message"].is_string(), "{body}");
        }
    }
}
