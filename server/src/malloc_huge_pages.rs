//! Backs the memory glibc's malloc maps with transparent huge pages.
//!
//! whisper.cpp keeps its weights, caches and compute buffers in memory from malloc, and its
//! decoder reads every weight matrix once per token, so each token walks tens of MB through
//! 4 KiB pages. glibc's `glibc.malloc.hugetlb=1` tunable has malloc ask the kernel for 2 MiB
//! pages (`madvise`) on what it maps, which also works where the node's
//! `transparent_hugepage/enabled` is `madvise` rather than `always` (docs/benchmarks.md has the
//! measurements). glibc reads tunables only when a process starts, so the server executes
//! itself again once, with the tunable set, before anything else happens.
//!
//! glibc's own setting wins: with `glibc.malloc.hugetlb` in `GLIBC_TUNABLES` (0 turns huge
//! pages off) the server leaves it alone, and it does nothing where the kernel has transparent
//! huge pages off.

const TUNABLE: &str = "glibc.malloc.hugetlb";
const ENABLED: &str = "glibc.malloc.hugetlb=1";
const KERNEL_SETTING: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// `GLIBC_TUNABLES` with huge pages asked for, or `None` when it already says either way.
pub fn tunables_with_huge_pages(current: Option<&str>) -> Option<String> {
    match current.filter(|tunables| !tunables.is_empty()) {
        None => Some(ENABLED.to_string()),
        Some(tunables) if tunables.split(':').any(|t| t.starts_with(TUNABLE)) => None,
        Some(tunables) => Some(format!("{tunables}:{ENABLED}")),
    }
}

/// Whether the kernel's setting (the contents of `transparent_hugepage/enabled`, the chosen
/// mode in brackets) lets a process have huge pages at all.
pub fn kernel_allows(setting: &str) -> bool {
    !setting.contains("[never]")
}

/// What became of the attempt, for the log once logging is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The environment already set the tunable, either way.
    Configured,
    /// The kernel has no transparent huge pages (or says nothing of them).
    KernelOff,
    /// This is the process started again with the tunable set.
    Enabled,
    /// Executing again failed; the server runs with 4 KiB pages.
    ExecFailed(String),
}

/// Call first in `main`, before any thread exists. Either replaces the process with the same
/// program and arguments, the tunable added, or returns why it did not.
pub fn enable_unless_configured() -> Outcome {
    let current = std::env::var("GLIBC_TUNABLES").ok();
    let Some(tunables) = tunables_with_huge_pages(current.as_deref()) else {
        return if current.as_deref().is_some_and(|t| t.contains(ENABLED)) {
            Outcome::Enabled
        } else {
            Outcome::Configured
        };
    };
    match std::fs::read_to_string(KERNEL_SETTING) {
        Ok(setting) if kernel_allows(&setting) => Outcome::ExecFailed(exec_with(&tunables)),
        _ => Outcome::KernelOff,
    }
}

/// Executes this program again with `GLIBC_TUNABLES=tunables`; returns only on failure.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exec_with(tunables: &str) -> String {
    use std::ffi::OsString;
    use std::os::unix::process::CommandExt;

    let mut args = std::env::args_os();
    let argv0 = args
        .next()
        .unwrap_or_else(|| OsString::from("whisper-server"));
    let error = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .exec();
    error.to_string()
}

/// Other C libraries have no such tunable.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exec_with(_tunables: &str) -> String {
    "not glibc on Linux".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_pages_are_added_unless_the_environment_decides() {
        assert_eq!(
            tunables_with_huge_pages(None).as_deref(),
            Some("glibc.malloc.hugetlb=1")
        );
        assert_eq!(
            tunables_with_huge_pages(Some("")).as_deref(),
            Some("glibc.malloc.hugetlb=1")
        );
        assert_eq!(
            tunables_with_huge_pages(Some("glibc.malloc.arena_max=4")).as_deref(),
            Some("glibc.malloc.arena_max=4:glibc.malloc.hugetlb=1")
        );
        assert_eq!(
            tunables_with_huge_pages(Some("glibc.malloc.hugetlb=0")),
            None
        );
        assert_eq!(
            tunables_with_huge_pages(Some("glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=1")),
            None
        );
    }

    #[test]
    fn only_the_never_mode_keeps_huge_pages_away() {
        assert!(kernel_allows("always [madvise] never\n"));
        assert!(kernel_allows("[always] madvise never\n"));
        assert!(!kernel_allows("always madvise [never]\n"));
    }
}
