//! A connection past `EdgeLimits::max_connections`: answered at once with a 503 and closed, so
//! the client learns to retry instead of waiting in the kernel's backlog.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::bare_errors::raw_response;
use crate::error::{EdgeError, RenderError};
use crate::lingering_close::{Budget, linger};

/// How long a refused connection may take to receive its answer, and then to close.
const ANSWER_TIME: Duration = Duration::from_secs(1);

pub async fn refuse(mut stream: TcpStream, render: RenderError) {
    let answer = raw_response(EdgeError::TooManyConnections, render);
    if let Ok(Ok(())) = tokio::time::timeout(ANSWER_TIME, stream.write_all(&answer)).await {
        // What the client already sent is read and dropped, so closing does not reset the
        // connection before it has read the answer.
        let budget = Budget {
            quiet: ANSWER_TIME,
            total: ANSWER_TIME,
        };
        linger(stream, budget).await;
    }
}
