//! hyper answers a request it cannot parse (400), a URI over 64 KiB (414) or a head over its
//! buffer (431) itself, with an empty body, before any layer of ours runs. `ConnectionIo` swaps
//! such a response for the API's JSON error on its way out. hyper writes those answers only
//! where no request reached the router, and the router's own errors always carry a body, so an
//! error head with `content-length: 0` is one of hyper's.

use axum::http::StatusCode;

use crate::error::ApiError;

/// The error a bodiless automatic answer of hyper's stands for, if `head` is one.
pub fn hyper_error_in(head: &[u8]) -> Option<ApiError> {
    let status = head.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let error = match status {
        b"400" => ApiError::MalformedRequest,
        b"414" => ApiError::UriTooLong,
        b"431" => ApiError::HeadersTooLarge,
        _ => return None,
    };
    let ends_bodiless = head.ends_with(b"\r\n\r\n")
        && head
            .windows(b"\r\ncontent-length: 0\r\n".len())
            .any(|w| w.eq_ignore_ascii_case(b"\r\ncontent-length: 0\r\n"));
    ends_bodiless.then_some(error)
}

/// A whole HTTP/1.1 response carrying `error`'s JSON body; the connection closes after it.
pub fn raw_response(error: &ApiError) -> Vec<u8> {
    let status: StatusCode = error.status();
    let body = error.body().to_string();
    let mut response = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if matches!(error, ApiError::TooManyConnections) {
        response.push_str("retry-after: 1\r\n");
    }
    response.push_str("\r\n");
    response.push_str(&body);
    response.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_hypers_bodiless_parse_errors() {
        let hyper_414 = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 09:00:00 GMT\r\n\r\n";
        assert!(matches!(
            hyper_error_in(hyper_414),
            Some(ApiError::UriTooLong)
        ));
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert!(matches!(
            hyper_error_in(hyper_431),
            Some(ApiError::HeadersTooLarge)
        ));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 80\r\n\r\n";
        assert!(hyper_error_in(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(hyper_error_in(ok).is_none());
    }

    #[test]
    fn the_replacement_is_a_complete_json_response() -> Result<(), serde_json::Error> {
        let raw = raw_response(&ApiError::UriTooLong);
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body)?;
        assert_eq!(json["error"]["code"], "uri_too_long");
        Ok(())
    }
}
