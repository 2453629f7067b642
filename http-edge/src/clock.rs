//! Which timer a connection is under: the head timer while a request head is arriving, the
//! keep-alive timer while it waits between requests and while its response's body makes no
//! progress (a client that stops reading), none while a request is being served (the router
//! governs that: the server's upload pace and inference time limit, say).

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A request head is arriving; for the first request, since the connection opened.
    Head { since: Instant },
    /// A request is in the router.
    Serving,
    /// The response's body is being sent; its last part went out at `since`.
    Sending { since: Instant },
    /// The last response is out; nothing of the next request has arrived.
    Idle { since: Instant },
}

/// What overran, for the error the connection ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overrun {
    Head,
    KeepAlive,
    /// The client stopped taking the response.
    SendStalled,
}

/// One connection's phase, moved on by its reader (`ConnectionIo`) and its service, and watched
/// by its task (`overrun`).
#[derive(Debug)]
pub struct ConnectionClock {
    header_read: Duration,
    keep_alive_idle: Duration,
    phase: Mutex<Phase>,
    changed: Notify,
}

impl ConnectionClock {
    pub fn opened(header_read: Duration, keep_alive_idle: Duration, now: Instant) -> Self {
        Self {
            header_read,
            keep_alive_idle,
            phase: Mutex::new(Phase::Head { since: now }),
            changed: Notify::new(),
        }
    }

    fn with_phase<T>(&self, f: impl FnOnce(&mut Phase) -> T) -> T {
        // A poisoned lock only means a panic elsewhere; the phase itself is always valid.
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut phase)
    }

    fn enter(&self, next: Phase) {
        self.with_phase(|phase| *phase = next);
        self.changed.notify_one();
    }

    /// Bytes arrived: an idle connection starts on its next request's head.
    pub fn bytes_arrived(&self, now: Instant) {
        let started = self.with_phase(|phase| {
            let idle = matches!(phase, Phase::Idle { .. });
            if idle {
                *phase = Phase::Head { since: now };
            }
            idle
        });
        if started {
            self.changed.notify_one();
        }
    }

    pub fn request_started(&self) {
        self.enter(Phase::Serving);
    }

    /// The response's head is ready; its body is sent from now.
    pub fn response_ready(&self, now: Instant) {
        self.enter(Phase::Sending { since: now });
    }

    /// Another part of the body went out: the send is alive.
    pub fn body_progressed(&self, now: Instant) {
        self.response_ready(now);
    }

    /// The whole response went out (or was dropped): the connection idles until its next
    /// request.
    pub fn response_sent(&self, now: Instant) {
        self.enter(Phase::Idle { since: now });
    }

    /// Resolves when a phase outlives its timer.
    pub async fn overrun(&self) -> Overrun {
        loop {
            let changed = self.changed.notified();
            match self.deadline() {
                Some((deadline, overrun)) if deadline <= Instant::now() => return overrun,
                Some((deadline, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// When the current phase runs out, and what it is; `None` while serving.
    pub fn deadline(&self) -> Option<(Instant, Overrun)> {
        self.with_phase(|phase| match *phase {
            Phase::Head { since } => Some((since + self.header_read, Overrun::Head)),
            Phase::Idle { since } => Some((since + self.keep_alive_idle, Overrun::KeepAlive)),
            Phase::Sending { since } => Some((since + self.keep_alive_idle, Overrun::SendStalled)),
            Phase::Serving => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_has_its_own_timer() {
        let (head, idle) = (Duration::from_secs(15), Duration::from_secs(75));
        let t0 = Instant::now();
        let clock = ConnectionClock::opened(head, idle, t0);
        assert_eq!(clock.deadline(), Some((t0 + head, Overrun::Head)));
        clock.request_started();
        assert_eq!(
            clock.deadline(),
            None,
            "no timer while the request is served"
        );
        let t1 = t0 + Duration::from_secs(100);
        clock.response_ready(t1);
        assert_eq!(clock.deadline(), Some((t1 + idle, Overrun::SendStalled)));
        let sent = t1 + Duration::from_secs(30);
        clock.body_progressed(sent);
        assert_eq!(clock.deadline(), Some((sent + idle, Overrun::SendStalled)));
        clock.response_sent(t1);
        assert_eq!(clock.deadline(), Some((t1 + idle, Overrun::KeepAlive)));
        let t2 = t1 + Duration::from_secs(10);
        clock.bytes_arrived(t2);
        assert_eq!(clock.deadline(), Some((t2 + head, Overrun::Head)));
        // More bytes of the same head do not restart its timer.
        clock.bytes_arrived(t2 + Duration::from_secs(5));
        assert_eq!(clock.deadline(), Some((t2 + head, Overrun::Head)));
    }

    #[tokio::test(start_paused = true)]
    async fn overrun_follows_the_phase_it_is_in() {
        let (head, idle) = (Duration::from_secs(15), Duration::from_secs(75));
        let clock = std::sync::Arc::new(ConnectionClock::opened(head, idle, Instant::now()));
        clock.request_started();
        let watcher = tokio::spawn({
            let clock = clock.clone();
            async move { clock.overrun().await }
        });
        // Serving for ten minutes overruns nothing.
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(!watcher.is_finished());
        clock.response_sent(Instant::now());
        tokio::time::sleep(Duration::from_secs(70)).await;
        assert!(!watcher.is_finished(), "idle 70 s of 75");
        // A head starting now must finish within 15 s, sooner than the idle timer's end.
        clock.bytes_arrived(Instant::now());
        tokio::time::sleep(Duration::from_secs(16)).await;
        assert!(matches!(watcher.await, Ok(Overrun::Head)));
    }
}
