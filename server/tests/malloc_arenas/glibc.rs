//! The check itself; glibc is the only C library with per-thread arenas to cap.

use std::process::Command;
use std::sync::{Arc, Barrier};

use whisper_server::malloc_arenas::{DEFAULT_ARENAS, cap_unless_configured};

const THREADS: usize = 8;
const CAPPED: &str = "--child-capped";
const LEFT_ALONE: &str = "--child-left-alone";

pub fn run() {
    match std::env::args().nth(1).as_deref() {
        Some(CAPPED) => {
            assert_eq!(cap_unless_configured(), Some(DEFAULT_ARENAS));
            allocate_on_threads_then_print_stats();
        }
        Some(LEFT_ALONE) => allocate_on_threads_then_print_stats(),
        _ => check(),
    }
}

fn check() {
    let capped = arenas_in_child(CAPPED);
    let left_alone = arenas_in_child(LEFT_ALONE);
    assert!(
        left_alone > usize::from(DEFAULT_ARENAS),
        "without the cap {THREADS} threads should take more than {DEFAULT_ARENAS} arenas, \
         took {left_alone}: the check cannot tell the cap from glibc's default"
    );
    assert!(
        capped <= usize::from(DEFAULT_ARENAS),
        "with the cap {THREADS} threads took {capped} arenas"
    );
    println!("malloc_arenas: capped {capped}, left alone {left_alone}: ok");
}

/// Runs this binary in `role` with glibc's own arena settings removed, and counts the arenas
/// its `malloc_stats` lists.
fn arenas_in_child(role: &str) -> usize {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .arg(role)
        .env_remove("MALLOC_ARENA_MAX")
        .env_remove("GLIBC_TUNABLES")
        .output()
        .expect("run child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child {role} failed: {stderr}");
    stderr
        .lines()
        .filter(|line| line.starts_with("Arena "))
        .count()
}

/// Every thread holds a small allocation until all of them have one, so none can hand its
/// arena on; then glibc prints each arena to stderr.
fn allocate_on_threads_then_print_stats() {
    let all_allocated = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let all_allocated = Arc::clone(&all_allocated);
            std::thread::spawn(move || {
                let held = std::hint::black_box(vec![1u8; 256]);
                all_allocated.wait();
                drop(held);
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    // SAFETY: malloc_stats only reads the allocator's state and writes to stderr.
    unsafe { libc::malloc_stats() };
}
