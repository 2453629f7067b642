//! hyper answers a request it cannot parse (400), a URI over 64 KiB (414) or a head over its
//! buffer (431) itself, with an empty body, before any layer of ours runs. `ConnectionIo` swaps
//! such a response for the caller's error body on its way out. hyper writes those answers only
//! where no request reached the router, and the routers served here never answer 400, 414 or 431
//! with an empty body (the server's errors all carry JSON; the operator's endpoints have no such
//! answer), so an error head with `content-length: 0` is one of hyper's.

use crate::error::{EdgeError, RenderError};

/// The error a bodiless automatic answer of hyper's stands for, if `head` is one.
pub fn hyper_error_in(head: &[u8]) -> Option<EdgeError> {
    let status = head.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let error = match status {
        b"400" => EdgeError::MalformedRequest,
        b"414" => EdgeError::UriTooLong,
        b"431" => EdgeError::HeadersTooLarge,
        _ => return None,
    };
    let ends_bodiless = head.ends_with(b"\r\n\r\n")
        && head
            .windows(b"\r\ncontent-length: 0\r\n".len())
            .any(|w| w.eq_ignore_ascii_case(b"\r\ncontent-length: 0\r\n"));
    ends_bodiless.then_some(error)
}

/// A whole HTTP/1.1 response carrying `error` as `render` makes it; the connection closes after
/// it.
pub fn raw_response(error: EdgeError, render: RenderError) -> Vec<u8> {
    let status = error.status();
    let rendered = render(error);
    let mut response = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        rendered.content_type,
        rendered.body.len()
    );
    if error == EdgeError::TooManyConnections {
        response.push_str("retry-after: 1\r\n");
    }
    response.push_str("\r\n");
    let mut response = response.into_bytes();
    response.extend_from_slice(&rendered.body);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorBody;

    fn code_as_json(error: EdgeError) -> ErrorBody {
        ErrorBody {
            content_type: "application/json",
            body: format!(r#"{{"code":"{}"}}"#, error.code()).into_bytes(),
        }
    }

    #[test]
    fn finds_only_hypers_bodiless_parse_errors() {
        let hyper_414 = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 09:00:00 GMT\r\n\r\n";
        assert_eq!(hyper_error_in(hyper_414), Some(EdgeError::UriTooLong));
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(hyper_error_in(hyper_431), Some(EdgeError::HeadersTooLarge));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 80\r\n\r\n";
        assert!(hyper_error_in(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(hyper_error_in(ok).is_none());
    }

    #[test]
    fn the_replacement_is_a_complete_response_with_the_callers_body() {
        let raw = raw_response(EdgeError::UriTooLong, code_as_json);
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(
            head.contains("\r\ncontent-type: application/json\r\n"),
            "{head}"
        );
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        assert!(!head.contains("retry-after"), "{head}");
        assert_eq!(body, r#"{"code":"uri_too_long"}"#);
    }

    #[test]
    fn the_503_past_the_cap_asks_for_a_retry_in_a_second() {
        let raw = raw_response(EdgeError::TooManyConnections, code_as_json);
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nretry-after: 1\r\n"), "{text}");
    }
}
