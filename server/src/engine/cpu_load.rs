//! How many of the host's cores other processes keep busy, sampled in the background.
//!
//! ggml's workers spin at barriers, so a thread that has no core of its own stalls the others:
//! beside one busy process on 2 cores, 2 threads run about 4x slower than idle while 1 thread
//! runs at its idle speed (docs/benchmarks.md). The server therefore needs to know how many
//! cores are free *before* it starts a request. The kernel's CPU pressure (PSI) cannot tell
//! that: one busy process on two idle cores waits for nothing. Busy time can: the host's busy
//! ticks minus this process's own ticks are the cores someone else uses.
//!
//! Host-wide on purpose: per-CPU lines of /proc/stat skip offline CPUs, so they cannot be
//! matched to an affinity mask reliably, and the thread budget already caps a request at the
//! CPUs the cgroup quota grants.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use prometheus::Gauge;

use super::runnable;

/// How often the sampler reads /proc (a few microseconds each time).
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Samples in the window the estimate spans: 300 ms. Threads are fixed for a whole request
/// (minutes for long audio), so the window must forget a neighbour that has just finished:
/// with one second of memory, a request started right after another process's burst ran on
/// one thread on an idle machine. Shorter than this, 100 Hz tick counts get too coarse.
const WINDOW: usize = 3;

/// Busy and total ticks of the whole host, and this process's own ticks, at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub host_busy: u64,
    pub host_total: u64,
    pub own: u64,
    pub host_cpus: usize,
}

/// Cores kept busy by other processes between two samples, in cores (0.0 to `host_cpus`).
pub fn foreign_cores(earlier: &Sample, later: &Sample) -> f64 {
    let total = later.host_total.saturating_sub(earlier.host_total);
    if total == 0 {
        return 0.0;
    }
    let busy = later.host_busy.saturating_sub(earlier.host_busy);
    let own = later.own.saturating_sub(earlier.own);
    let foreign = busy.saturating_sub(own) as f64 / total as f64;
    (foreign * later.host_cpus as f64).clamp(0.0, later.host_cpus as f64)
}

/// The busy-time window's estimate, unless fewer of the other processes' threads are runnable
/// now: a neighbour that has exited or gone to sleep has given its core back, while a
/// CPU-bound one is runnable at every instant.
pub fn present_foreign_cores(window: f64, runnable_now: Option<usize>) -> f64 {
    match runnable_now {
        Some(now) => window.min(now as f64),
        None => window,
    }
}

/// The latest estimate, shared with the sampler thread.
#[derive(Debug)]
struct Shared {
    foreign_millicores: AtomicU32,
    host_cpus: usize,
}

/// A running estimate of the cores other processes use. Cheap to clone; the sampler thread
/// stops once the last clone is dropped.
#[derive(Debug, Clone)]
pub struct CpuLoad {
    shared: Arc<Shared>,
}

impl CpuLoad {
    /// Starts sampling, each estimate also published in `gauge`
    /// (`whisper_cpu_busy_elsewhere_cores`), or returns `None` where /proc cannot be read (not
    /// Linux, no procfs).
    pub fn start(gauge: Gauge) -> Option<Self> {
        let first = read_sample()?;
        let shared = Arc::new(Shared {
            foreign_millicores: AtomicU32::new(0),
            host_cpus: first.host_cpus,
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("cpu-load".into())
            .spawn(move || sample_until_dropped(&weak, first, &gauge))
            .ok()?;
        Some(Self { shared })
    }

    /// Cores other processes use as a request starts: their busy time over the last 300 ms,
    /// capped by how many of their threads are runnable at this instant.
    pub fn foreign_cores(&self) -> f64 {
        let window = f64::from(self.shared.foreign_millicores.load(Ordering::Relaxed)) / 1000.0;
        let runnable_now = runnable::foreign_runnable_steady();
        // What a request's thread count was chosen from, for diagnosing a slow one.
        tracing::debug!(window, runnable_now, "cores busy elsewhere");
        present_foreign_cores(window, runnable_now)
    }

    /// Online CPUs of the host.
    pub fn host_cpus(&self) -> usize {
        self.shared.host_cpus
    }
}

fn sample_until_dropped(shared: &Weak<Shared>, first: Sample, gauge: &Gauge) {
    let mut window = std::collections::VecDeque::from([first]);
    loop {
        std::thread::sleep(SAMPLE_EVERY);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(current) = read_sample() else {
            continue;
        };
        window.push_back(current);
        if window.len() > WINDOW + 1 {
            window.pop_front();
        }
        let foreign = window
            .front()
            .map_or(0.0, |oldest| foreign_cores(oldest, &current));
        let millicores = (foreign * 1000.0).round() as u32;
        shared
            .foreign_millicores
            .store(millicores, Ordering::Relaxed);
        gauge.set(f64::from(millicores) / 1000.0);
    }
}

#[cfg(target_os = "linux")]
fn read_sample() -> Option<Sample> {
    use procfs::{CurrentSI, KernelStats};
    let kernel = KernelStats::current().ok()?;
    let own = procfs::process::Process::myself().ok()?.stat().ok()?;
    let t = &kernel.total;
    let optional = |v: Option<u64>| v.unwrap_or(0);
    // Niced work counts: it takes few cycles from the server, but each time it preempts a ggml
    // worker the others spin at the barrier (a `nice -n 19` build beside the benchmark made
    // 2-thread inference 10x slower, docs/benchmarks.md). Steal (time the hypervisor gave to
    // another guest) is a core taken away too.
    let busy =
        t.user + t.nice + t.system + optional(t.irq) + optional(t.softirq) + optional(t.steal);
    let total = busy + t.idle + optional(t.iowait);
    Some(Sample {
        host_busy: busy,
        host_total: total,
        own: own.utime + own.stime,
        host_cpus: kernel.cpu_time.len().max(1),
    })
}

#[cfg(not(target_os = "linux"))]
fn read_sample() -> Option<Sample> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(host_busy: u64, host_total: u64, own: u64) -> Sample {
        Sample {
            host_busy,
            host_total,
            own,
            host_cpus: 2,
        }
    }

    #[test]
    fn one_busy_process_on_two_idle_cores_is_one_foreign_core() {
        // 100 ticks per core elapsed on 2 cores; someone else was busy 100 of the 200.
        assert_eq!(foreign_cores(&sample(0, 0, 0), &sample(100, 200, 0)), 1.0);
    }

    #[test]
    fn the_servers_own_work_is_not_foreign() {
        assert_eq!(foreign_cores(&sample(0, 0, 0), &sample(200, 200, 200)), 0.0);
        assert_eq!(foreign_cores(&sample(0, 0, 0), &sample(200, 200, 100)), 1.0);
    }

    #[test]
    fn a_neighbour_that_has_exited_no_longer_counts() {
        assert_eq!(present_foreign_cores(1.0, Some(0)), 0.0);
    }

    #[test]
    fn a_neighbour_still_running_counts_as_the_window_saw_it() {
        assert_eq!(present_foreign_cores(0.9, Some(1)), 0.9);
        assert_eq!(present_foreign_cores(0.9, Some(3)), 0.9);
    }

    #[test]
    fn without_a_runnable_count_the_window_decides() {
        assert_eq!(present_foreign_cores(1.2, None), 1.2);
    }

    #[test]
    fn counter_glitches_never_give_negative_or_impossible_loads() {
        assert_eq!(foreign_cores(&sample(10, 10, 0), &sample(10, 10, 0)), 0.0);
        assert_eq!(foreign_cores(&sample(50, 100, 0), &sample(40, 90, 0)), 0.0);
        assert_eq!(foreign_cores(&sample(0, 0, 50), &sample(100, 200, 0)), 1.0);
    }

    /// Against the real kernel: a process spinning beside the test shows up as about one core.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_spinning_process_beside_the_server_is_seen() {
        let gauge = Gauge::new("cpu_busy_elsewhere", "test").expect("valid gauge name");
        let load = CpuLoad::start(gauge.clone()).expect("/proc is readable on Linux");
        let mut hog = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("sh runs");
        std::thread::sleep(Duration::from_millis(2500));
        let seen = load.foreign_cores();
        let published = gauge.get();
        let _ = hog.kill();
        let _ = hog.wait();
        // Other work on a shared machine only adds to it.
        assert!(
            seen >= 0.7,
            "a spinning process should be about one core, saw {seen}"
        );
        assert!(seen <= load.host_cpus() as f64);
        assert!(published > 0.0, "the estimate is published in the gauge");
    }
}
