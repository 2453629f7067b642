//! A steady load of real transcriptions, kept up while something happens to the cluster, and
//! what it saw: every request's outcome and latency. A request fails when it does not come back
//! 200 with the expected text; a 429 (the server's queue is full) is retried after a pause and
//! counted apart, as a client honouring it would. A load started with [`Retry::LikeOpenAiSdk`]
//! retries a failed request as the official `openai` SDKs do by default, and reports the first
//! failures whose retries succeeded apart from those that failed every time.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{E2eError, Result};
use crate::speech::normalise;

/// Longest a request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const PAUSE_AFTER_REFUSAL: Duration = Duration::from_millis(250);

/// One request's outcome.
#[derive(Clone, Debug)]
struct Outcome {
    /// Since the load started.
    sent_at: Duration,
    latency: Duration,
    /// `None` for a success, else what went wrong.
    failure: Option<String>,
    throttled: bool,
    /// What the retries of a failed request came to, when the load retries: `Ok` as soon as one
    /// succeeded, else the last one's failure.
    retry: Option<Result<(), String>>,
}

/// Whether a failed request is sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Every failure counts: what a scenario that may lose nothing is judged by.
    Never,
    /// A failed request is sent again after each of [`SDK_RETRY_DELAYS`], as the official
    /// `openai` SDKs do by default (two retries, 0.5 s then 1 s, each less up to a quarter of
    /// jitter, left out here); it counts as failed only if every retry fails too.
    LikeOpenAiSdk,
}

/// The pauses before each retry of [`Retry::LikeOpenAiSdk`].
pub const SDK_RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(1)];

/// Requests in flight from `concurrency` workers, each sending the next as soon as its last one
/// came back.
pub struct Load {
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<Vec<Outcome>>>,
    started: Instant,
}

/// What a load saw between its start and its stop.
#[derive(Clone, Debug)]
pub struct LoadReport {
    pub sent: usize,
    pub succeeded: usize,
    /// 429s, retried.
    pub throttled: usize,
    /// (seconds since the start, what went wrong) of each failed request (with
    /// [`Retry::LikeOpenAiSdk`], of each whose retries all failed, with the last one's reason).
    pub failures: Vec<(f64, String)>,
    /// (seconds since the start, what went wrong the first time) of each request that failed and
    /// whose retries succeeded.
    pub recovered: Vec<(f64, String)>,
    pub median: Duration,
    pub worst: Duration,
    pub duration: Duration,
}

impl LoadReport {
    /// The counts and the first few failures, for the test log.
    pub fn summary(&self) -> String {
        let first: Vec<String> = self
            .failures
            .iter()
            .chain(&self.recovered)
            .take(5)
            .map(|(at, why)| format!("at {at:.1} s: {why}"))
            .collect();
        format!(
            "{} sent, {} succeeded, {} failed, {} failed then retried, {} throttled; median {:.2} s, worst {:.2} s{}",
            self.sent,
            self.succeeded,
            self.failures.len(),
            self.recovered.len(),
            self.throttled,
            self.median.as_secs_f64(),
            self.worst.as_secs_f64(),
            if first.is_empty() {
                String::new()
            } else {
                format!("; first failures: {}", first.join("; "))
            }
        )
    }

    /// One line for a scenario's table.
    pub fn row(&self, scenario: &str) -> String {
        format!(
            "| {scenario} | {:.0} s | {} | {} | {} | {} | {:.2} s | {:.2} s |",
            self.duration.as_secs_f64(),
            self.sent,
            self.failures.len(),
            self.recovered.len(),
            self.throttled,
            self.median.as_secs_f64(),
            self.worst.as_secs_f64(),
        )
    }
}

impl Load {
    /// Starts posting `audio` to `base_url`'s /v1/audio/transcriptions; each answer must read
    /// `expected` (compared as [`normalise`] does).
    pub fn start(
        base_url: &str,
        audio: &Path,
        expected: &str,
        concurrency: usize,
        retry: Retry,
    ) -> Result<Load> {
        let bytes = std::fs::read(audio).map_err(|source| E2eError::Io {
            what: format!("reading {}", audio.display()),
            source,
        })?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let (stop, stopped) = watch::channel(false);
        let started = Instant::now();
        let url = format!("{base_url}/v1/audio/transcriptions");
        let expected = normalise(expected);
        let workers = (0..concurrency)
            .map(|_| {
                let worker = Worker {
                    client: client.clone(),
                    url: url.clone(),
                    audio: bytes.clone(),
                    expected: expected.clone(),
                    started,
                    retry,
                };
                tokio::spawn(worker.run(stopped.clone()))
            })
            .collect();
        Ok(Load {
            stop,
            workers,
            started,
        })
    }

    /// Time since the load started (the clock of [`LoadReport::failures`]).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops sending, waits for the requests in flight, and reports.
    pub async fn stop(self) -> Result<LoadReport> {
        let _ = self.stop.send(true);
        let mut outcomes = Vec::new();
        for worker in self.workers {
            outcomes.extend(
                worker
                    .await
                    .map_err(|e| E2eError::Unexpected(format!("load worker panicked: {e}")))?,
            );
        }
        Ok(report(outcomes, self.started.elapsed()))
    }
}

struct Worker {
    client: reqwest::Client,
    url: String,
    audio: Vec<u8>,
    expected: String,
    started: Instant,
    retry: Retry,
}

impl Worker {
    async fn run(self, mut stopped: watch::Receiver<bool>) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        while !*stopped.borrow_and_update() {
            let sent_at = self.started.elapsed();
            let sent = Instant::now();
            let answer = self.send().await;
            let latency = sent.elapsed();
            let throttled = matches!(answer, Answer::Throttled);
            let failure = match answer {
                Answer::Failed(why) => Some(why),
                Answer::Transcribed | Answer::Throttled => None,
            };
            let retry = match (&failure, self.retry) {
                (Some(_), Retry::LikeOpenAiSdk) => Some(self.retried().await),
                _ => None,
            };
            outcomes.push(Outcome {
                sent_at,
                latency,
                failure,
                throttled,
                retry,
            });
            // A client honouring a 429 waits; one whose request failed does not hammer either.
            if !matches!(outcomes.last(), Some(o) if o.failure.is_none() && !o.throttled) {
                tokio::time::sleep(PAUSE_AFTER_REFUSAL).await;
            }
        }
        outcomes
    }

    /// Sends the request again after each of [`SDK_RETRY_DELAYS`] until one try succeeds.
    async fn retried(&self) -> Result<(), String> {
        let mut last = Err(String::new());
        for (n, delay) in SDK_RETRY_DELAYS.iter().enumerate() {
            tokio::time::sleep(*delay).await;
            last = match self.send().await {
                Answer::Transcribed => return Ok(()),
                Answer::Throttled => Err(format!("HTTP 429 on retry {}", n + 1)),
                Answer::Failed(why) => Err(format!("retry {}: {why}", n + 1)),
            };
        }
        last
    }

    async fn send(&self) -> Answer {
        let part = reqwest::multipart::Part::bytes(self.audio.clone()).file_name("speech.wav");
        let form = reqwest::multipart::Form::new()
            .text("model", "whisper-1")
            .part("file", part);
        let response = match self.client.post(&self.url).multipart(form).send().await {
            Ok(r) => r,
            Err(e) => return Answer::Failed(format!("request: {}", with_causes(&e))),
        };
        let status = response.status();
        if status.as_u16() == 429 {
            return Answer::Throttled;
        }
        let body = match response.text().await {
            Ok(b) => b,
            Err(e) => return Answer::Failed(format!("HTTP {status}, body cut: {e}")),
        };
        if !status.is_success() {
            return Answer::Failed(format!("HTTP {status}: {body}"));
        }
        let text = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["text"].as_str().map(normalise));
        match text {
            Some(t) if t == self.expected => Answer::Transcribed,
            _ => Answer::Failed(format!("unexpected answer: {body}")),
        }
    }
}

/// An error with its chain of causes ("error sending request" alone says nothing).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

enum Answer {
    Transcribed,
    Throttled,
    Failed(String),
}

fn report(mut outcomes: Vec<Outcome>, duration: Duration) -> LoadReport {
    outcomes.sort_by_key(|o| o.sent_at);
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .filter(|o| o.failure.is_none() && !o.throttled)
        .map(|o| o.latency)
        .collect();
    latencies.sort();
    let mut failures = Vec::new();
    let mut recovered = Vec::new();
    for o in &outcomes {
        let Some(first) = o.failure.clone() else {
            continue;
        };
        let at = o.sent_at.as_secs_f64();
        match &o.retry {
            None => failures.push((at, first)),
            Some(Ok(())) => recovered.push((at, first)),
            Some(Err(last)) => failures.push((at, format!("{first}; {last}"))),
        }
    }
    let worst = outcomes.iter().map(|o| o.latency).max().unwrap_or_default();
    LoadReport {
        sent: outcomes.len(),
        succeeded: latencies.len(),
        throttled: outcomes.iter().filter(|o| o.throttled).count(),
        failures,
        recovered,
        median: latencies
            .get(latencies.len() / 2)
            .copied()
            .unwrap_or_default(),
        worst,
        duration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(secs: u64, latency_ms: u64, failure: Option<&str>, throttled: bool) -> Outcome {
        Outcome {
            sent_at: Duration::from_secs(secs),
            latency: Duration::from_millis(latency_ms),
            failure: failure.map(str::to_string),
            throttled,
            retry: None,
        }
    }

    #[test]
    fn failures_and_throttling_are_counted_apart_from_the_latencies_of_successes() {
        let r = report(
            vec![
                outcome(3, 900, Some("HTTP 503"), false),
                outcome(1, 400, None, false),
                outcome(2, 10, None, true),
                outcome(4, 600, None, false),
            ],
            Duration::from_secs(5),
        );
        assert_eq!((r.sent, r.succeeded, r.throttled), (4, 2, 1));
        assert_eq!(r.failures, vec![(3.0, "HTTP 503".to_string())]);
        assert_eq!(r.median, Duration::from_millis(600));
        assert_eq!(r.worst, Duration::from_millis(900));
    }

    #[test]
    fn a_failure_whose_retry_succeeded_is_recovered_and_one_whose_retries_failed_is_a_failure() {
        let retried = |secs, retry: Result<(), String>| Outcome {
            retry: Some(retry),
            ..outcome(secs, 100, Some("connection refused"), false)
        };
        let r = report(
            vec![
                retried(1, Ok(())),
                retried(2, Err("HTTP 502".into())),
                outcome(3, 100, None, false),
            ],
            Duration::from_secs(4),
        );
        assert_eq!(r.recovered, vec![(1.0, "connection refused".to_string())]);
        assert_eq!(
            r.failures,
            vec![(2.0, "connection refused; HTTP 502".to_string())]
        );
        assert_eq!(r.succeeded, 1);
    }
}
