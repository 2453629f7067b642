//! The end-to-end suite's helpers: a user's path through a real cluster (any kubeconfig), with
//! the Helm chart installed by helm, WhisperServices applied from `e2e/samples/`, and the
//! operator either in-cluster (kind) or a local process holding the chart's ServiceAccount token.

pub mod chart;
pub mod cluster;
pub mod error;
pub mod in_cluster;
pub mod kind_node;
pub mod kind_setup;
pub mod load;
pub mod local_operator;
pub mod namespace;
pub mod node_port;
pub mod paths;
pub mod prometheus;
pub mod rollout;
pub mod speech;
pub mod token;
pub mod tool;
pub mod transcribe;
pub mod wait;
pub mod whisperservice;

pub use cluster::{Cluster, Mode};
pub use error::E2eError;
