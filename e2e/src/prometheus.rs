//! Prometheus's HTTP API, as the kind suite reads it through a port-forward: instant queries,
//! the loaded rules and the active targets.

use serde_json::Value;

use crate::error::{E2eError, Result};

/// A Prometheus server at `base_url` (e.g. a port-forward's).
pub struct PrometheusApi {
    pub base_url: String,
    http: reqwest::Client,
}

impl PrometheusApi {
    pub fn new(base_url: &str) -> PrometheusApi {
        PrometheusApi {
            base_url: base_url.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Value> {
        let body: Value = self
            .http
            .get(format!("{}{path}", self.base_url))
            .query(params)
            .send()
            .await?
            .json()
            .await?;
        if body["status"] != "success" {
            return Err(E2eError::Unexpected(format!("Prometheus {path}: {body}")));
        }
        Ok(body["data"].clone())
    }

    /// An instant query's sample values (empty when it evaluated to no series); an error when
    /// Prometheus could not evaluate it.
    pub async fn query(&self, promql: &str) -> Result<Vec<f64>> {
        let data = self.get("/api/v1/query", &[("query", promql)]).await?;
        Ok(sample_values(&data))
    }

    /// `/api/v1/rules`: every rule group Prometheus loaded.
    pub async fn rule_groups(&self) -> Result<Vec<Value>> {
        let data = self.get("/api/v1/rules", &[]).await?;
        Ok(data["groups"].as_array().cloned().unwrap_or_default())
    }

    /// `/api/v1/targets`: the active scrape targets.
    pub async fn active_targets(&self) -> Result<Vec<Value>> {
        let data = self.get("/api/v1/targets", &[("state", "active")]).await?;
        Ok(data["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

/// The values of a vector or scalar result.
pub fn sample_values(data: &Value) -> Vec<f64> {
    let parse = |v: &Value| v[1].as_str().and_then(|s| s.parse::<f64>().ok());
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| parse(&s["value"]))
            .collect(),
        Some("scalar") => parse(&data["result"]).into_iter().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vector_and_scalar_results_give_their_values() {
        let vector = json!({"resultType": "vector", "result": [
            {"metric": {}, "value": [1.0, "2.5"]}, {"metric": {}, "value": [1.0, "NaN"]}]});
        let values = sample_values(&vector);
        assert_eq!(values[0], 2.5);
        assert!(values[1].is_nan());
        assert_eq!(
            sample_values(&json!({"resultType": "scalar", "result": [1.0, "4"]})),
            vec![4.0]
        );
        assert!(sample_values(&json!({"resultType": "matrix", "result": []})).is_empty());
    }
}
