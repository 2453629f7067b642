//! Just enough PromQL lexing to list the metric names an expression reads, and to turn a Grafana
//! query into plain PromQL. Not a parser: Prometheus itself (promtool, the live test) judges syntax.

use std::collections::BTreeSet;

/// Words that are never metric names where they stand: operators, modifiers, and aggregations
/// (which may be followed by `by (...)` instead of their parenthesised argument).
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
    "start",
    "end",
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "limitk",
    "limit_ratio",
];

/// Modifiers whose parenthesised list holds label names, not expressions.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` selects, e.g. `rate(x_total{a="b"}[5m]) / y` gives {x_total, y}.
/// Label matchers, label lists, strings, durations, functions and Grafana `$variables` are skipped.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i = match c {
            '"' | '\'' | '`' => skip_string(&chars, i),
            '{' => skip_until(&chars, i, '}'),
            '[' => skip_until(&chars, i, ']'),
            '#' => skip_line(&chars, i),
            '$' => skip_variable(&chars, i),
            c if c.is_ascii_digit() || c == '.' => skip_word(&chars, i),
            c if is_word_start(c) => {
                let end = skip_word(&chars, i);
                let word: String = chars[i..end].iter().collect();
                let next = skip_spaces(&chars, end);
                let opens_paren = chars.get(next) == Some(&'(');
                if opens_paren && LABEL_LISTS.contains(&word.as_str()) {
                    skip_until(&chars, next, ')')
                } else {
                    if !opens_paren && !KEYWORDS.contains(&word.as_str()) {
                        names.insert(word);
                    }
                    end
                }
            }
            _ => i + 1,
        };
    }
    names
}

/// Replaces Grafana template variables (`$name` and `${name}`) with values, longest names first so
/// `$instance` is not taken for `$inst`.
pub fn substitute_variables(expr: &str, values: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = values.iter().collect();
    sorted.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    sorted.iter().fold(expr.to_string(), |acc, (name, value)| {
        acc.replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value)
    })
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Past an identifier or a number (`5m`, `0.95`, `1e3` lex as one word).
fn skip_word(chars: &[char], from: usize) -> usize {
    let mut i = from;
    while i < chars.len() && (is_word_char(chars[i]) || chars[i] == '.') {
        i += 1;
    }
    i.max(from + 1)
}

/// Past a Grafana variable: `$name` or `${name}`; `from` is the `$`.
fn skip_variable(chars: &[char], from: usize) -> usize {
    match chars.get(from + 1) {
        Some('{') => skip_until(chars, from + 1, '}'),
        _ => skip_word(chars, from + 1),
    }
}

fn skip_spaces(chars: &[char], from: usize) -> usize {
    let mut i = from;
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

fn skip_line(chars: &[char], from: usize) -> usize {
    let mut i = from;
    while i < chars.len() && chars[i] != '\n' {
        i += 1;
    }
    i
}

/// From an opening quote to just past its closing quote (backslash escapes honoured except in
/// backtick raw strings).
fn skip_string(chars: &[char], from: usize) -> usize {
    let quote = chars[from];
    let mut i = from + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// From an opening bracket to just past `close`, skipping strings inside.
fn skip_until(chars: &[char], from: usize, close: char) -> usize {
    let mut i = from + 1;
    while i < chars.len() && chars[i] != close {
        i = match chars[i] {
            '"' | '\'' | '`' => skip_string(chars, i),
            _ => i + 1,
        };
    }
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn finds_metrics_inside_functions_and_aggregations() {
        let expr = r#"histogram_quantile(0.95, sum by (le, job) (rate(a_bucket{job=~"$job", x="by(y)"}[5m])))"#;
        assert_eq!(names(expr), ["a_bucket"]);
    }

    #[test]
    fn finds_both_sides_of_binary_operators() {
        let expr = "sum(rate(a_sum[5m])) / ignoring (reason) group_left (endpoint) b_total * 100 > bool 0.5";
        assert_eq!(names(expr), ["a_sum", "b_total"]);
    }

    #[test]
    fn trailing_grouping_and_set_operators_are_not_metrics() {
        let expr = "sum(rate(x_total[1m])) by (endpoint) and on (job, instance) up == 0 unless y offset 5m";
        assert_eq!(names(expr), ["up", "x_total", "y"]);
    }

    #[test]
    fn grafana_variables_strings_and_comments_are_skipped() {
        let expr = "# a comment naming fake_metric
rate(m_total[$__rate_interval]) + ${datasource} + $job";
        assert_eq!(names(expr), ["m_total"]);
    }

    #[test]
    fn an_expression_without_metrics_has_none() {
        assert!(metric_names("vector(1) + 2 * time()").is_empty());
        assert!(metric_names("").is_empty());
    }

    #[test]
    fn unterminated_input_does_not_panic() {
        assert_eq!(names(r#"rate(x{a="unterminated"#), ["x"]);
        assert_eq!(names("y[5m"), ["y"]);
    }

    #[test]
    fn substitutes_both_variable_forms_longest_name_first() {
        let out = substitute_variables(
            r#"x{instance=~"$instance", i=~"${inst}"}[$__rate_interval]"#,
            &[("inst", "b"), ("instance", ".*"), ("__rate_interval", "1m")],
        );
        assert_eq!(out, r#"x{instance=~".*", i=~"b"}[1m]"#);
    }
}
