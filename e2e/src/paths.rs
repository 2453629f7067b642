//! Where the suite finds the repository's files and the tools it drives.

use std::path::PathBuf;

/// The repository root (this crate lives in `e2e/`).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The Helm chart.
pub fn chart_dir() -> PathBuf {
    repo_root().join("charts/whisper-operator")
}

/// A sample manifest under `e2e/samples/`.
pub fn sample(name: &str) -> PathBuf {
    repo_root().join("e2e/samples").join(name)
}

/// `~/.cache/whisper-operator` (or `$WHISPER_OPERATOR_CACHE`), where scripts put helm and kubectl.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WHISPER_OPERATOR_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/whisper-operator")
}

/// A tool from `scripts/fetch-k8s-tools.sh`'s bin folder if it is there, else from `PATH`.
pub fn tool(name: &str) -> PathBuf {
    let cached = cache_dir().join("bin").join(name);
    if cached.is_file() {
        cached
    } else {
        PathBuf::from(name)
    }
}

/// The operator binary for local mode: `$WHISPER_OPERATOR_BIN`, else the workspace's debug build
/// (in `$CARGO_TARGET_DIR` when that is set, as `scripts/test.sh` sets it).
pub fn operator_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("WHISPER_OPERATOR_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("debug/whisper-operator")
}
