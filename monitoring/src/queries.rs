//! The "Useful Prometheus Queries" file: blocks separated by blank lines, each a `# title` comment
//! over one PromQL expression (which may span lines). A block of comments alone is prose.

use crate::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsefulQuery {
    pub title: String,
    pub expr: String,
}

pub fn useful_queries(text: &str) -> Result<Vec<UsefulQuery>, Error> {
    let mut queries = Vec::new();
    let mut title: Option<String> = None;
    let mut expr_lines: Vec<&str> = Vec::new();
    let mut expr_start = 0;
    // A trailing empty line closes the last block.
    for (index, line) in text.lines().chain(std::iter::once("")).enumerate() {
        let line = line.trim();
        if line.is_empty() {
            if !expr_lines.is_empty() {
                let title = title
                    .take()
                    .ok_or(Error::UntitledQuery { line: expr_start })?;
                queries.push(UsefulQuery {
                    title,
                    expr: expr_lines.join("\n"),
                });
                expr_lines.clear();
            }
            title = None;
        } else if let Some(comment) = line.strip_prefix('#') {
            title.get_or_insert_with(|| comment.trim().to_string());
        } else {
            if expr_lines.is_empty() {
                expr_start = index + 1;
            }
            expr_lines.push(line);
        }
    }
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_titled_blocks_and_skips_prose() {
        let text = "# Prose about the file.\n# More prose.\n\n# Request rate\nrate(x[5m])\n\n# Ratio\na\n  / b\n";
        let queries = useful_queries(text).expect("valid file");
        assert_eq!(
            queries,
            [
                UsefulQuery {
                    title: "Request rate".into(),
                    expr: "rate(x[5m])".into()
                },
                UsefulQuery {
                    title: "Ratio".into(),
                    expr: "a\n/ b".into()
                },
            ]
        );
    }

    #[test]
    fn an_untitled_expression_is_an_error() {
        let err = useful_queries("# t\nup\n\nrate(x[1m])\n").expect_err("untitled");
        assert!(matches!(err, Error::UntitledQuery { line: 4 }), "{err}");
    }
}
