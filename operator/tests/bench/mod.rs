//! Pieces of the operator benchmark (`tests/cluster_bench.rs`): the baseline client that applies
//! the children straight to the API server, and the readings of the operator's own metrics.

pub mod direct;
pub mod scrape;
