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
    #[error("serialising {kind}: {source}")]
    Serialize {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
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
            Error::Serialize { .. } | Error::AlertRules(_) | Error::MissingField(_) => "internal",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
