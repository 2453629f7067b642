//! A connection past `EdgeLimits::max_connections`: answered at once with a 503 and closed, so
//! the client learns to retry instead of waiting in the kernel's backlog.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::bare_errors::raw_response;
use crate::error::{EdgeError, RenderError};

/// How long a refused connection may take to receive its answer.
const ANSWER_TIME: Duration = Duration::from_secs(1);

pub async fn refuse(mut stream: TcpStream, render: RenderError) {
    let answer = async {
        stream
            .write_all(&raw_response(EdgeError::TooManyConnections, render))
            .await?;
        stream.shutdown().await?;
        // Read what the client already sent, so closing does not reset the connection before
        // it has read the answer.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(ANSWER_TIME, answer).await;
}
