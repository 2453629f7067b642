//! A client that stops reading its response loses the connection once the body has made no
//! progress for the keep-alive idle time; one that reads gets the whole body, even a streamed
//! body that lasts far longer than that time.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use whisper_http_edge::{EdgeError, EdgeLimits, ErrorBody, serve};

/// Far more than the socket buffers on both sides hold.
const BODY_BYTES: usize = 64 << 20;

async fn start() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let app = Router::new()
        .route("/big", get(|| async { vec![b'x'; BODY_BYTES] }))
        .route("/slow", get(|| async { Body::from_stream(trickle()) }));
    let limits = EdgeLimits {
        header_read: Duration::from_secs(5),
        keep_alive_idle: Duration::from_secs(1),
        max_connections: 8,
    };
    tokio::spawn(serve(
        listener,
        app,
        limits,
        no_body,
        std::future::pending(),
    ));
    addr
}

/// `SLOW_PARTS` parts, one every 300 ms: 3 s, three times the idle time.
fn trickle() -> impl futures_util::Stream<Item = Result<&'static str, std::io::Error>> + Send {
    futures_util::stream::unfold(0, |sent| async move {
        if sent == SLOW_PARTS {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((Ok("part\n"), sent + 1))
    })
}

const SLOW_PARTS: usize = 10;

fn no_body(_: EdgeError) -> ErrorBody {
    ErrorBody {
        content_type: "text/plain",
        body: Vec::new(),
    }
}

/// Asks for `path`, waits `pause` before reading, then reads until the server closes.
async fn bytes_read_after(path: &str, pause: Duration) -> (usize, String) {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    tokio::time::sleep(pause).await;
    let mut received = 0;
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    received += n;
                    tail = buf[..n].to_vec();
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read_all)
        .await
        .expect("the connection neither finished nor closed within 30 s");
    (received, String::from_utf8_lossy(&tail).into_owned())
}

#[tokio::test]
async fn a_client_that_reads_gets_the_whole_body() {
    assert!(bytes_read_after("/big", Duration::ZERO).await.0 > BODY_BYTES);
}

#[tokio::test]
async fn a_body_that_keeps_coming_outlives_the_idle_time() {
    let (_, tail) = bytes_read_after("/slow", Duration::ZERO).await;
    // Chunked encoding ends with an empty chunk once the last part went out.
    assert!(tail.ends_with("0\r\n\r\n"), "cut off: ...{tail:?}");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_after_the_idle_time() {
    let (received, _) = bytes_read_after("/big", Duration::from_secs(3)).await;
    assert!(
        received < BODY_BYTES,
        "a stalled client still got all {received} bytes"
    );
}
