//! The arena cap as glibc itself reports it: threads that allocate at the same time share
//! `DEFAULT_ARENAS` arenas in a capped process and get one each in a process left alone.
//!
//! Each process can be capped only once, before its threads start, so the checks run in child
//! processes of this same binary (`harness = false` in Cargo.toml).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc;

fn main() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::run();
}
