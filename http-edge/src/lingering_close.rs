//! Closing a connection without losing the answer on it. A response sent before the request's
//! body was read (a 413 past the size limit, a 400 for a bad field ahead of the file, a 401)
//! leaves the client still sending; closing the socket with unread bytes makes the kernel send
//! a reset, and the client then often reports the reset instead of the answer it had been
//! sent. So, as nginx's `lingering_close` does, the write side is shut first (the client reads
//! the answer, then end of stream) and what the client still sends is read and dropped for a
//! bounded time before the socket is closed.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// How long a closing connection is read from.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Longest it may stay silent before it is closed.
    pub quiet: Duration,
    /// Longest it is read from, in all.
    pub total: Duration,
}

/// After an answer on a served connection.
pub const AFTER_AN_ANSWER: Budget = Budget {
    quiet: Duration::from_secs(2),
    total: Duration::from_secs(10),
};

/// Shuts the write side of `io`, then reads and drops what arrives until the client closes, is
/// silent for `budget.quiet`, or `budget.total` has passed.
pub async fn linger<T: AsyncRead + AsyncWrite + Unpin>(mut io: T, budget: Budget) {
    if io.shutdown().await.is_err() {
        return;
    }
    let until = Instant::now() + budget.total;
    let mut sink = vec![0u8; 16 * 1024];
    loop {
        let quiet_until = (Instant::now() + budget.quiet).min(until);
        match tokio::time::timeout_at(quiet_until, io.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    #[tokio::test]
    async fn the_answer_arrives_then_the_rest_of_the_upload_is_read_and_dropped() {
        let (server, mut client) = duplex(64);
        let lingering = tokio::spawn(linger(server, AFTER_AN_ANSWER));
        // The client is still sending more than the pipe holds: linger must read it.
        client
            .write_all(&[7u8; 4096])
            .await
            .expect("the server keeps reading");
        drop(client);
        lingering.await.expect("linger ends when the client closes");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_closes_is_let_go_after_the_quiet_time() {
        let (server, _client) = duplex(64);
        let started = Instant::now();
        linger(server, AFTER_AN_ANSWER).await;
        assert_eq!(started.elapsed(), AFTER_AN_ANSWER.quiet);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_keeps_trickling_is_let_go_after_the_total_time() {
        let (server, mut client) = duplex(64);
        let started = Instant::now();
        let lingering = tokio::spawn(linger(server, AFTER_AN_ANSWER));
        let trickle = tokio::spawn(async move {
            while client.write_all(b"x").await.is_ok() {
                tokio::time::sleep(AFTER_AN_ANSWER.quiet / 2).await;
            }
        });
        lingering.await.expect("linger");
        let Budget { quiet, total } = AFTER_AN_ANSWER;
        assert!(
            started.elapsed() <= total + quiet,
            "{:?}",
            started.elapsed()
        );
        assert!(
            started.elapsed() >= total - quiet,
            "{:?}",
            started.elapsed()
        );
        trickle.abort();
    }
}
