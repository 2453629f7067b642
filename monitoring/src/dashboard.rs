//! The PromQL queries of a Grafana dashboard, panel by panel (rows' nested panels included).

use serde::Deserialize;

use crate::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardQuery {
    pub panel_id: Option<u64>,
    pub panel_title: String,
    pub ref_id: String,
    pub legend: String,
    pub expr: String,
}

#[derive(Deserialize)]
struct Dashboard {
    #[serde(default)]
    panels: Vec<Panel>,
}

#[derive(Deserialize)]
struct Panel {
    id: Option<u64>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    panels: Vec<Panel>,
    #[serde(default)]
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    #[serde(rename = "refId", default)]
    ref_id: String,
    expr: Option<String>,
    #[serde(rename = "legendFormat", default)]
    legend: String,
}

/// Every target's query in `dashboard_json`. A target without `expr` is an error: every panel
/// here is a Prometheus panel.
pub fn dashboard_queries(dashboard_json: &str) -> Result<Vec<DashboardQuery>, Error> {
    let dashboard: Dashboard = serde_json::from_str(dashboard_json)?;
    let mut queries = Vec::new();
    collect(&dashboard.panels, &mut queries)?;
    Ok(queries)
}

fn collect(panels: &[Panel], out: &mut Vec<DashboardQuery>) -> Result<(), Error> {
    for panel in panels {
        for target in &panel.targets {
            let expr = target.expr.clone().ok_or_else(|| Error::MissingExpr {
                panel: panel.title.clone(),
                ref_id: target.ref_id.clone(),
            })?;
            out.push(DashboardQuery {
                panel_id: panel.id,
                panel_title: panel.title.clone(),
                ref_id: target.ref_id.clone(),
                legend: target.legend.clone(),
                expr,
            });
        }
        collect(&panel.panels, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_targets_of_panels_and_rows() {
        let json = r#"{"panels": [
            {"id": 1, "title": "A", "targets": [{"refId": "A", "expr": "up"}]},
            {"id": 2, "type": "row", "title": "R", "panels": [
                {"id": 3, "title": "B", "targets": [{"refId": "X", "expr": "x", "legendFormat": "{{job}}"}]}
            ]}
        ]}"#;
        let queries = dashboard_queries(json).expect("valid dashboard");
        let exprs: Vec<(&str, &str, &str)> = queries
            .iter()
            .map(|q| (q.panel_title.as_str(), q.ref_id.as_str(), q.expr.as_str()))
            .collect();
        assert_eq!(exprs, [("A", "A", "up"), ("B", "X", "x")]);
        assert_eq!(queries[1].legend, "{{job}}");
    }

    #[test]
    fn a_target_without_expr_is_an_error() {
        let json = r#"{"panels": [{"title": "A", "targets": [{"refId": "B"}]}]}"#;
        let err = dashboard_queries(json).expect_err("no expr");
        assert!(
            matches!(err, Error::MissingExpr { ref ref_id, .. } if ref_id == "B"),
            "{err}"
        );
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(matches!(
            dashboard_queries("{\"panels\": ["),
            Err(Error::DashboardJson(_))
        ));
    }
}
