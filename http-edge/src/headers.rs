//! Response headers that keep what a client sent from running on a service's origin.

use axum::Router;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};

/// Gives every response of `router` `X-Content-Type-Options: nosniff` and, unless the handler
/// chose its own policy (the web UI's pages do), `Content-Security-Policy: sandbox`: a payload
/// that a browser renders anyway then runs in an opaque origin, with no scripts.
pub fn harden<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(axum::middleware::map_response(add_safety_headers))
}

async fn add_safety_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("sandbox"));
    response
}

/// The headers a raw or downloaded payload is served with: bytes to save, never a page.
/// `file_name` is reduced to `[A-Za-z0-9._-]` (other characters become `_`, at most 100).
pub fn attachment_headers(file_name: &str) -> HeaderMap {
    let safe: String = file_name
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = if safe.trim_matches('.').is_empty() {
        "payload.bin".to_string()
    } else {
        safe
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
            .expect("the name is reduced to header-safe characters"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
}

#[cfg(test)]
mod tests {
    use super::attachment_headers;

    #[test]
    fn attachment_names_cannot_break_out_of_the_header() {
        let headers = attachment_headers("a\"; filename=evil.html\r\n<x>.dmp");
        assert_eq!(headers["content-type"], "application/octet-stream");
        assert_eq!(
            headers["content-disposition"],
            "attachment; filename=\"a___filename_evil.html___x_.dmp\""
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(
            attachment_headers("..")["content-disposition"],
            "attachment; filename=\"payload.bin\""
        );
    }
}
