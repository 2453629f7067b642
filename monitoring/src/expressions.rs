//! Every PromQL expression this folder ships, from the dashboard, the alert rules and the useful
//! queries, so one test can check them all.

use crate::{ALERT_RULES_YAML, DASHBOARD_JSON, Error, USEFUL_QUERIES_PROMQL};
use crate::{alert_rules, dashboard_queries, useful_queries};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Dashboard,
    AlertRule,
    UsefulQuery,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    pub origin: Origin,
    /// Where it comes from, for messages: panel title and legend, alert name, or query title.
    pub name: String,
    pub promql: String,
}

/// All expressions of the embedded assets (dashboard queries still hold Grafana variables).
pub fn all_expressions() -> Result<Vec<Expression>, Error> {
    let dashboard = dashboard_queries(DASHBOARD_JSON)?
        .into_iter()
        .map(|q| Expression {
            origin: Origin::Dashboard,
            name: format!(
                "panel {:?} target {} ({})",
                q.panel_title, q.ref_id, q.legend
            ),
            promql: q.expr,
        });
    let rules = alert_rules(ALERT_RULES_YAML)?
        .into_iter()
        .map(|r| Expression {
            origin: Origin::AlertRule,
            name: format!("alert {}", r.name),
            promql: r.expr,
        });
    let queries = useful_queries(USEFUL_QUERIES_PROMQL)?
        .into_iter()
        .map(|q| Expression {
            origin: Origin::UsefulQuery,
            name: format!("query {:?}", q.title),
            promql: q.expr,
        });
    Ok(dashboard.chain(rules).chain(queries).collect())
}
