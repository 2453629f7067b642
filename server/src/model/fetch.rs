//! Downloads a model file once, verified against its SHA-256, and places it atomically.
//!
//! Blocking by design: the caller runs it off the async runtime (or before starting one).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

use super::atomic::AtomicFile;

/// A dead server fails fast; a slow but live download of a large model is allowed to finish.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(60);
const CHUNK: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// `dest` already held the expected bytes; nothing was downloaded.
    AlreadyPresent,
    Downloaded {
        bytes: u64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{sha256:?} is not a SHA-256 digest (64 hexadecimal characters)")]
    BadDigest { sha256: String },
    #[error("{url}: unsupported URL; use http://, https:// or file://")]
    UnsupportedUrl { url: String },
    #[error("{url}: server answered HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("{url}: {source}")]
    Http { url: String, source: ureq::Error },
    #[error("{url}: cannot read: {source}")]
    Read { url: String, source: io::Error },
    /// Reading an existing destination, or writing, syncing or renaming the new one.
    #[error("{}: {source}", path.display())]
    Dest { path: PathBuf, source: io::Error },
    #[error("{url}: SHA-256 mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        url: String,
        expected: String,
        actual: String,
    },
}

pub fn fetch_model(url: &str, sha256: &str, dest: &Path) -> Result<FetchOutcome, FetchError> {
    let expected = parse_digest(sha256)?;
    let dest_error = |source| FetchError::Dest {
        path: dest.into(),
        source,
    };
    if dest.is_file() && hash_file(dest).map_err(dest_error)? == expected {
        return Ok(FetchOutcome::AlreadyPresent);
    }

    let mut source = open(url)?;
    let mut file = AtomicFile::create(dest).map_err(dest_error)?;
    let (bytes, actual) =
        copy_hashing(&mut source, file.writer()).map_err(|e| e.into_fetch_error(url, dest))?;
    if actual != expected {
        // Dropping `file` removes the temporary file.
        return Err(FetchError::ChecksumMismatch {
            url: url.into(),
            expected,
            actual,
        });
    }
    file.commit(dest).map_err(dest_error)?;
    Ok(FetchOutcome::Downloaded { bytes })
}

fn parse_digest(sha256: &str) -> Result<String, FetchError> {
    if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(sha256.to_ascii_lowercase())
    } else {
        Err(FetchError::BadDigest {
            sha256: sha256.into(),
        })
    }
}

fn open(url: &str) -> Result<Box<dyn Read>, FetchError> {
    if let Some(path) = url.strip_prefix("file://") {
        let file = File::open(path).map_err(|source| FetchError::Read {
            url: url.into(),
            source,
        })?;
        return Ok(Box::new(file));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(FetchError::UnsupportedUrl { url: url.into() });
    }
    match agent().get(url).call() {
        Ok(response) => Ok(Box::new(response.into_body().into_reader())),
        Err(ureq::Error::StatusCode(status)) => Err(FetchError::HttpStatus {
            url: url.into(),
            status,
        }),
        Err(source) => Err(FetchError::Http {
            url: url.into(),
            source,
        }),
    }
}

/// rustls with the platform's trust store (what a container's CA bundle provides).
fn agent() -> ureq::Agent {
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::PlatformVerifier)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .tls_config(tls)
        .build()
        .new_agent()
}

fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    copy_hashing(&mut file, &mut io::sink())
        .map(|(_, digest)| digest)
        .map_err(|e| match e {
            CopyError::Read(e) | CopyError::Write(e) => e,
        })
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

impl CopyError {
    fn into_fetch_error(self, url: &str, dest: &Path) -> FetchError {
        match self {
            Self::Read(source) => FetchError::Read {
                url: url.into(),
                source,
            },
            Self::Write(source) => FetchError::Dest {
                path: dest.into(),
                source,
            },
        }
    }
}

/// Copies everything, hashing on the way; returns the byte count and the hex digest.
fn copy_hashing(src: &mut dyn Read, dst: &mut dyn Write) -> Result<(u64, String), CopyError> {
    let mut buf = vec![0; CHUNK];
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
    dst.flush().map_err(CopyError::Write)?;
    let digest = hasher.finalize();
    Ok((total, digest.iter().map(|b| format!("{b:02x}")).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_must_be_64_hex_characters() {
        let good = "AB".repeat(32);
        assert_eq!(parse_digest(&good).expect("valid"), "ab".repeat(32));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert!(matches!(
                parse_digest(bad),
                Err(FetchError::BadDigest { .. })
            ));
        }
    }

    #[test]
    fn sha256_of_known_input() {
        let (n, digest) =
            copy_hashing(&mut &b"abc"[..], &mut io::sink()).unwrap_or_else(|_| panic!("in memory"));
        assert_eq!(n, 3);
        assert_eq!(
            digest,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn other_schemes_are_rejected() {
        assert!(matches!(
            open("ftp://example.invalid/model.bin"),
            Err(FetchError::UnsupportedUrl { .. })
        ));
    }
}
