//! Optional bearer API key on everything but health, metrics and the page (whose requests send
//! the key typed into it).

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Paths that stay open so probes and Prometheus need no secret, and a browser can load the page.
const OPEN_PATHS: &[&str] = &["/", "/healthz", "/readyz", "/metrics"];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the API key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the API key is empty")]
    Empty,
}

/// The configured key: from the flag, or the file's content without surrounding whitespace.
pub fn load_key(key: Option<&str>, file: Option<&Path>) -> Result<Option<String>, KeyError> {
    let key = match (key, file) {
        (Some(key), _) => key.to_string(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|source| KeyError::Read {
                path: path.display().to_string(),
                source,
            })?
            .trim()
            .to_string(),
        (None, None) => return Ok(None),
    };
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(Some(key))
}

/// Compares in time independent of where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(header: Option<&[u8]>, key: &str) -> bool {
    header
        .and_then(|value| value.strip_prefix(b"Bearer "))
        .is_some_and(|given| same_secret(given.trim_ascii(), key.as_bytes()))
}

pub async fn require_key(
    State(app): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(key) = app.api_key.as_deref() else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if OPEN_PATHS.contains(&path)
        || authorized(
            request.headers().get(AUTHORIZATION).map(|v| v.as_bytes()),
            key,
        )
    {
        return next.run(request).await;
    }
    // Counted by `routes::accounting`, from the reason the response carries.
    ApiError::Unauthorized.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_bearer_key() {
        assert!(authorized(Some(b"Bearer s3cret"), "s3cret"));
        assert!(!authorized(Some(b"Bearer s3cre"), "s3cret"));
        assert!(!authorized(Some(b"Basic s3cret"), "s3cret"));
        assert!(!authorized(None, "s3cret"));
    }

    #[test]
    fn key_file_is_trimmed_and_must_not_be_empty() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("key");
        std::fs::write(&path, "abc\n")?;
        assert_eq!(load_key(None, Some(&path))?, Some("abc".into()));
        std::fs::write(&path, " \n")?;
        assert!(matches!(load_key(None, Some(&path)), Err(KeyError::Empty)));
        Ok(())
    }
}
