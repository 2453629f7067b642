//! The operator's endpoints behind the HTTP edge, against raw socket clients: a half-sent head
//! is cut off on its timer, a connection past the cap gets a 503 at once while an open one is
//! served, and hyper's own 414 carries a JSON body. No cluster needed.

use std::net::SocketAddr;
use std::sync::{Arc, atomic::AtomicBool};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use whisper_http_edge::EdgeLimits;
use whisper_operator::http::{HttpState, serve};
use whisper_operator::metrics::Metrics;

/// Serves the endpoints on a port of their own with these limits; the idle timer is 3 s.
async fn start(header_read: Duration, max_connections: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let state = HttpState {
        metrics: Metrics::new().expect("metrics"),
        ready: Arc::new(AtomicBool::new(true)),
    };
    let limits = EdgeLimits {
        header_read,
        keep_alive_idle: Duration::from_secs(3),
        max_connections,
    };
    tokio::spawn(serve(listener, state, limits, std::future::pending()));
    addr
}

/// Everything the server sends until it closes the connection, and when it closed (`None`:
/// still open after `limit`). A reset counts as a close.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
    let text = String::from_utf8_lossy(&received).into_owned();
    (text, read.is_ok().then(|| started.elapsed()))
}

fn status(response: &str) -> Option<u16> {
    response.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// The JSON `{"error": {"message", "code"}}` body of a raw response, as (message, code).
fn json_error(response: &str) -> (String, String) {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("\r\ncontent-type: application/json\r\n"),
        "{head}"
    );
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("body {body:?}: {e}"));
    let field = |name: &str| json["error"][name].as_str().unwrap_or_default().to_string();
    (field("message"), field("code"))
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_after_the_head_timeout() {
    let addr = start(Duration::from_secs(1), 8).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let (received, closed) = until_closed(&mut stream, Duration::from_secs(10)).await;
    let closed = closed.expect("a half-sent head was still open after 10 s");
    assert!(
        closed >= Duration::from_millis(900) && closed < Duration::from_secs(3),
        "closed after {closed:?}; the head timeout is 1 s"
    );
    assert_eq!(received, "", "a timed-out head gets no answer");
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_gets_503_at_once_while_an_open_one_is_served() {
    // The head timer is long enough that the open connection outlives the test's waits.
    let addr = start(Duration::from_secs(10), 1).await;
    // Connections are accepted in the order they arrive: this one takes the only place.
    let mut open = TcpStream::connect(addr).await.expect("connect");

    let mut refused = TcpStream::connect(addr).await.expect("connect");
    let (response, closed) = until_closed(&mut refused, Duration::from_secs(5)).await;
    let closed = closed.expect("the connection past the cap stayed open");
    assert!(closed < Duration::from_secs(2), "the 503 took {closed:?}");
    assert_eq!(status(&response), Some(503), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("\r\nretry-after: 1\r\n"),
        "{response}"
    );
    let (message, code) = json_error(&response);
    assert_eq!(code, "too_many_connections");
    assert!(!message.is_empty(), "{response}");

    open.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let (response, _) = until_closed(&mut open, Duration::from_secs(5)).await;
    assert_eq!(status(&response), Some(200), "{response}");
    assert!(response.ends_with("\r\n\r\nok"), "{response}");
}

#[tokio::test]
async fn a_100_kb_url_gets_414_with_a_json_body() {
    let addr = start(Duration::from_secs(10), 8).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let (response, _) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(status(&response), Some(414), "{response}");
    let (message, code) = json_error(&response);
    assert_eq!(code, "uri_too_long");
    assert!(!message.is_empty(), "{response}");
}
