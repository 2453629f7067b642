//! The operator's errors, each with a bounded category used as a metric label.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("applying {kind}: {source}")]
    Apply {
        kind: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("deleting {kind}: {source}")]
    Delete {
        kind: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("reading {kind}: {source}")]
    Read {
        kind: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("writing status: {0}")]
    Status(#[source] kube::Error),
    #[error("updating finalizers: {0}")]
    Finalizer(#[source] kube::Error),
    #[error("API discovery: {0}")]
    Discovery(#[source] kube::Error),
    #[error("the embedded alert rules are not a valid rule file: {0}")]
    AlertRules(#[source] serde_yaml::Error),
    #[error("object has no {0}")]
    MissingField(&'static str),
}

impl Error {
    /// A small, fixed set of values for the `category` metric label.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Apply { .. } => "apply",
            Error::Delete { .. } => "delete",
            Error::Read { .. } => "read",
            Error::Status(_) => "status",
            Error::Finalizer(_) => "finalizer",
            Error::Discovery(_) => "discovery",
            Error::AlertRules(_) | Error::MissingField(_) => "internal",
        }
    }

    /// One line for a user (a status message): the API server's own words where it refused,
    /// without the debug dump of its whole answer that `Display` adds.
    pub fn brief(&self) -> String {
        match self {
            Error::Apply {
                kind,
                source: kube::Error::Api(s),
            } => format!("applying {kind}: {}", s.message),
            Error::Delete {
                kind,
                source: kube::Error::Api(s),
            } => format!("deleting {kind}: {}", s.message),
            other => other.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
