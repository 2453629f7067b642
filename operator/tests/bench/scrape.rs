//! Reading the operator's `/metrics`: counters, and a quantile from a histogram's buckets the
//! way Prometheus's `histogram_quantile` interpolates it.

/// The text exposition of `http://{addr}/metrics`, empty when unreachable.
pub async fn metrics(addr: &str) -> String {
    let out = tokio::process::Command::new("curl")
        .args(["-s", &format!("http://{addr}/metrics")])
        .output()
        .await
        .map(|o| o.stdout)
        .unwrap_or_default();
    String::from_utf8_lossy(&out).into_owned()
}

/// Sum of every sample of `name` whose labels contain all of `labels` (`key="value"` strings).
pub fn sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    samples(text, name)
        .filter(|(l, _)| labels.iter().all(|want| l.contains(want)))
        .map(|(_, v)| v)
        .sum()
}

/// The `q` quantile of histogram `name` over all its label sets.
pub fn quantile(text: &str, name: &str, q: f64) -> Option<f64> {
    let bucket = format!("{name}_bucket");
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for (labels, count) in samples(text, &bucket) {
        let le = labels
            .split(',')
            .find_map(|l| l.trim().strip_prefix("le=\""))?
            .trim_end_matches('"');
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().ok()?
        };
        match buckets.iter_mut().find(|(b, _)| *b == le) {
            Some((_, c)) => *c += count,
            None => buckets.push((le, count)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in &buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let within = (rank - lower.1) / (count - lower.1).max(f64::MIN_POSITIVE);
            return Some(lower.0 + (le - lower.0) * within);
        }
        lower = (le, count);
    }
    None
}

/// `(labels, value)` of each sample line of `name` (labels without braces, empty if none).
fn samples<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    text.lines().filter_map(move |line| {
        let rest = line.strip_prefix(name)?;
        let (labels, value) = match rest.strip_prefix('{') {
            Some(r) => r.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        Some((labels, value.trim().parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
x_total{kind=\"Deployment\",outcome=\"changed\"} 3
x_total{kind=\"Service\",outcome=\"unchanged\"} 2
x_total{kind=\"Deployment\",outcome=\"unchanged\"} 5
h_bucket{outcome=\"success\",le=\"0.1\"} 50
h_bucket{outcome=\"success\",le=\"0.2\"} 90
h_bucket{outcome=\"success\",le=\"+Inf\"} 100
h_bucket{outcome=\"error\",le=\"0.1\"} 0
h_bucket{outcome=\"error\",le=\"0.2\"} 0
h_bucket{outcome=\"error\",le=\"+Inf\"} 0
";

    #[test]
    fn sums_matching_label_sets() {
        assert_eq!(sum(TEXT, "x_total", &["outcome=\"unchanged\""]), 7.0);
        assert_eq!(sum(TEXT, "x_total", &[]), 10.0);
    }

    #[test]
    fn interpolates_within_the_bucket_like_prometheus() {
        let median = quantile(TEXT, "h", 0.5).expect("median");
        assert!((median - 0.1).abs() < 1e-9);
        let p70 = quantile(TEXT, "h", 0.7).expect("p70");
        assert!((p70 - 0.15).abs() < 1e-9);
    }
}
