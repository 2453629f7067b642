//! Why an embedded asset could not be read.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("dashboard JSON is invalid: {0}")]
    DashboardJson(#[from] serde_json::Error),
    #[error("YAML is invalid: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("dashboard panel {panel:?} target {ref_id:?} has no PromQL expression")]
    MissingExpr { panel: String, ref_id: String },
    #[error("queries file: expression on line {line} has no `# title` comment above it")]
    UntitledQuery { line: usize },
    #[error("Prometheus config has no scrape job {0:?}")]
    MissingJob(String),
    #[error("Prometheus config is not a YAML mapping where {0} should be")]
    NotAMapping(&'static str),
}
