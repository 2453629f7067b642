//! How many threads of other processes are runnable at this instant.
//!
//! The busy-time window of `cpu_load` remembers the last few hundred milliseconds, so it still
//! counts a neighbour that has just exited (a client that prepared its upload, a process run
//! right before): a request started then would run on fewer threads for its whole length on a
//! machine that is now idle. The kernel's count of runnable tasks (`procs_running` in
//! /proc/stat) says who wants a core now; a CPU-bound neighbour is always among them, one that
//! has finished or sleeps is not.

/// Threads of other processes that are runnable, given the host's runnable count and how many
/// of this process's own threads are among them (the reading thread included).
pub fn foreign_runnable(host_running: u32, own_running: usize) -> usize {
    (host_running as usize).saturating_sub(own_running)
}

/// How many readings `foreign_runnable_steady` takes, and how far apart.
const READINGS: usize = 4;
const READING_GAP: std::time::Duration = std::time::Duration::from_micros(250);

/// The fewest runnable threads of other processes over a few readings about a millisecond
/// apart, or `None` where /proc cannot tell. One reading catches threads that run for a moment:
/// the client finishing its upload, or one of this server's own threads handing the request
/// on, counted by the kernel but asleep when its task is read. A CPU-bound neighbour is
/// runnable in every reading.
pub fn foreign_runnable_steady() -> Option<usize> {
    fewest((0..READINGS).map(|i| {
        if i > 0 {
            std::thread::sleep(READING_GAP);
        }
        foreign_runnable_now()
    }))
}

/// The smallest of the readings /proc could give; `None` if it gave none.
fn fewest(readings: impl Iterator<Item = Option<usize>>) -> Option<usize> {
    readings.flatten().min()
}

/// Other processes' runnable threads now, or `None` where /proc cannot tell.
#[cfg(target_os = "linux")]
pub fn foreign_runnable_now() -> Option<usize> {
    use procfs::{CurrentSI, KernelStats};
    let host = KernelStats::current().ok()?.procs_running?;
    // Counted after the host's figure: a thread of ours that starts running in between is
    // subtracted without having been counted, which only errs towards "fewer others".
    let own = procfs::process::Process::myself()
        .ok()?
        .tasks()
        .ok()?
        .flatten()
        .filter_map(|task| task.stat().ok())
        .filter(|stat| stat.state == 'R')
        .count();
    Some(foreign_runnable(host, own))
}

#[cfg(not(target_os = "linux"))]
pub fn foreign_runnable_now() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_threads_are_not_others() {
        assert_eq!(foreign_runnable(3, 1), 2);
        assert_eq!(foreign_runnable(1, 1), 0);
    }

    #[test]
    fn the_fewest_readings_count_and_missing_ones_are_skipped() {
        assert_eq!(fewest([Some(1), Some(0), Some(2)].into_iter()), Some(0));
        assert_eq!(fewest([None, Some(1), None].into_iter()), Some(1));
        assert_eq!(fewest([None, None].into_iter()), None);
    }

    #[test]
    fn a_race_between_the_two_readings_never_goes_negative() {
        assert_eq!(foreign_runnable(1, 3), 0);
    }

    /// Against the real kernel: a spinning process is runnable.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_spinning_process_is_runnable() {
        let before = foreign_runnable_now().expect("/proc is readable on Linux");
        let mut hog = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("sh runs");
        std::thread::sleep(std::time::Duration::from_millis(200));
        // The most of several readings: another test's thread may hold the core at one instant.
        let during = (0..20)
            .filter_map(|_| foreign_runnable_now())
            .max()
            .unwrap_or(0);
        let steady = foreign_runnable_steady().unwrap_or(0);
        let _ = hog.kill();
        let _ = hog.wait();
        assert!(
            during >= 1,
            "a spinning process is runnable (before: {before})"
        );
        assert!(
            steady >= 1,
            "a spinning process is runnable in every reading (before: {before})"
        );
    }
}
