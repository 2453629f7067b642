//! Caps glibc's malloc arenas for the server process.
//!
//! glibc gives a thread that allocates while the other arenas are busy an arena of its own, up
//! to eight per core, and keeps what is freed there for that arena. Uploads of several MB freed
//! on many threads then leave resident memory rising for a long time after traffic has settled
//! (docs/soak.md). Two arenas held it flat at the same speed (docs/benchmarks.md).
//!
//! glibc's own settings win: with `MALLOC_ARENA_MAX` or `glibc.malloc.arena_max` in
//! `GLIBC_TUNABLES` in the environment, glibc has applied that and the server leaves it alone.

/// Arenas the server allows unless the environment says otherwise.
pub const DEFAULT_ARENAS: u16 = 2;

/// Whether the environment already sets glibc's arena limit.
fn configured_by_environment(arena_max: Option<&str>, glibc_tunables: Option<&str>) -> bool {
    arena_max.is_some()
        || glibc_tunables.is_some_and(|tunables| {
            tunables
                .split(':')
                .any(|tunable| tunable.starts_with("glibc.malloc.arena_max="))
        })
}

/// Applies [`DEFAULT_ARENAS`] unless the environment sets the limit, and returns the cap it
/// applied. Call it before any thread starts: an arena a thread already has is not taken back.
pub fn cap_unless_configured() -> Option<u16> {
    let arena_max = std::env::var("MALLOC_ARENA_MAX").ok();
    let tunables = std::env::var("GLIBC_TUNABLES").ok();
    if configured_by_environment(arena_max.as_deref(), tunables.as_deref()) {
        return None;
    }
    cap(DEFAULT_ARENAS).then_some(DEFAULT_ARENAS)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn cap(arenas: u16) -> bool {
    // SAFETY: mallopt only sets an allocator parameter; it takes no pointers.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, i32::from(arenas)) == 1 }
}

/// Other C libraries (musl, macOS) have no per-thread arenas to cap.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn cap(_arenas: u16) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::configured_by_environment;

    #[test]
    fn either_glibc_setting_counts_as_configured() {
        assert!(!configured_by_environment(None, None));
        assert!(configured_by_environment(Some("4"), None));
        assert!(configured_by_environment(
            None,
            Some("glibc.malloc.tcache_count=0:glibc.malloc.arena_max=8")
        ));
    }

    #[test]
    fn other_tunables_do_not_count() {
        assert!(!configured_by_environment(
            None,
            Some("glibc.malloc.arena_test=2:glibc.malloc.trim_threshold=0")
        ));
    }
}
