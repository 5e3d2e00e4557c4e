//! The browser boundary: what a web page the developer happens to visit can do to a service on
//! their machine.
//!
//! A page can make the browser send requests anywhere, and can read answers only where CORS lets
//! it. So a service's read and control routes (everything but ingest) never send CORS headers,
//! refuse state changes a browser marks as cross-site, and answer only to Host names on an
//! allowlist: a DNS-rebinding attack points the attacker's own name at 127.0.0.1, which makes
//! the browser treat the service as same-origin with the attacker's page, but the request still
//! carries the attacker's name in `Host`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use http::{HeaderValue, Method, StatusCode, header};

/// The `Host` names a service answers its read and control routes to.
///
/// Always allowed: IP literals (a browser that connects to an address it was given as an
/// address cannot have been rebound), `localhost` and `*.localhost` (which browsers resolve to
/// loopback themselves), and names without a dot, such as compose service names and Kent's
/// `fakesentry`: a rebinding page needs a name in public DNS, which always has a dot. Further names are added with [`HostAllowlist::with_names`] and
/// [`HostAllowlist::with_url_host`]; a name starting with `.` allows its subdomains; `*` turns
/// the check off. Ports are ignored: the browser's same-origin rule already covers them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAllowlist {
    any: bool,
    names: BTreeSet<String>,
    suffixes: BTreeSet<String>,
}

impl HostAllowlist {
    /// Adds names as a flag lists them (`fake-sentry,.svc.cluster.local`, `*`); blank entries
    /// are skipped so that an empty environment variable adds nothing.
    pub fn with_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            for entry in name.as_ref().split(',') {
                let entry = normalise(entry);
                if entry == "*" {
                    self.any = true;
                } else if let Some(suffix) = entry.strip_prefix('.') {
                    if !suffix.is_empty() {
                        self.suffixes.insert(suffix.to_string());
                    }
                } else if !entry.is_empty() {
                    self.names.insert(strip_port(&entry).to_string());
                }
            }
        }
        self
    }

    /// Adds the host of a URL the service is reached at (its `--public-url`).
    pub fn with_url_host(self, url: &str) -> Self {
        match url
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| uri.host().map(|h| h.trim_matches(['[', ']']).to_string()))
        {
            Some(host) => self.with_names([host]),
            None => self,
        }
    }

    /// Whether a `Host` header value (`name`, `name:port`, `[v6]:port`) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let host = normalise(host);
        let name = strip_port(&host);
        if name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
            return true;
        }
        if !name.contains('.') || name.ends_with(".localhost") || self.names.contains(name) {
            return true;
        }
        self.suffixes.iter().any(|suffix| {
            name.strip_suffix(suffix.as_str())
                .is_some_and(|rest| rest.ends_with('.'))
        })
    }

    /// Whether a page from `origin` (`scheme://host[:port]`, as browsers send it) may read
    /// what a service shares with local pages only (Spotlight's live stream): loopback
    /// addresses and names, and the names listed. Unlike a `Host`, an origin that is some other
    /// IP address is a page served from elsewhere, so it is not allowed.
    pub fn allows_origin(&self, origin: &str) -> bool {
        if self.any {
            return true;
        }
        let Some((_, authority)) = origin.split_once("://") else {
            return false;
        };
        let authority = normalise(authority);
        let name = strip_port(&authority);
        match name.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => {
                name == "localhost"
                    || name.ends_with(".localhost")
                    || self.names.contains(name)
                    || self.suffixes.iter().any(|suffix| {
                        name.strip_suffix(suffix.as_str())
                            .is_some_and(|rest| rest.ends_with('.'))
                    })
            }
        }
    }
}

fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `name:port` → `name`, `[v6]:port` → `[v6]`, a bare IPv6 literal unchanged.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// Why a request was refused at the browser boundary. Answered 403 with a Sentry-style
/// `{"detail": ...}` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "host {0:?} is not allowed here: add it to the service's allowed hosts \
         (or '*' to turn the check off)"
    )]
    HostNotAllowed(String),
    #[error(
        "a browser sent this {0} request from another site ({1}); read and control APIs \
         only take state changes from their own pages or from non-browser clients"
    )]
    CrossSite(String, String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "detail": self.to_string() });
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    }
}

/// Wraps a service's read and control routes; see the module doc.
#[derive(Debug, Clone, Default)]
pub struct BrowserBoundary {
    hosts: Arc<HostAllowlist>,
}

impl BrowserBoundary {
    pub fn new(hosts: HostAllowlist) -> Self {
        Self {
            hosts: Arc::new(hosts),
        }
    }

    pub fn hosts(&self) -> &HostAllowlist {
        &self.hosts
    }

    /// Puts `router`'s routes behind the boundary. Its answers also carry
    /// `Cross-Origin-Resource-Policy: same-origin`, so that no other site can embed them.
    pub fn protect<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), guard))
    }

    /// Puts one route's methods behind the boundary, for a path whose other methods are
    /// ingest (Spotlight's `/stream`: `GET` reads, `POST` ingests).
    pub fn protect_method<S>(&self, route: MethodRouter<S>) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        route.route_layer(axum::middleware::from_fn_with_state(self.clone(), guard))
    }

    /// The check [`BrowserBoundary::protect`] applies, for callers outside axum.
    pub fn check(&self, method: &Method, headers: &http::HeaderMap) -> Result<(), Refusal> {
        if let Some(host) = headers.get(header::HOST) {
            let host = String::from_utf8_lossy(host.as_bytes());
            if !self.hosts.allows(&host) {
                return Err(Refusal::HostNotAllowed(clip(&host)));
            }
        }
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        if let Some(site) = headers.get("sec-fetch-site") {
            return match site.as_bytes() {
                b"same-origin" | b"none" => Ok(()),
                other => Err(Refusal::CrossSite(
                    method.to_string(),
                    format!("Sec-Fetch-Site: {}", clip(&String::from_utf8_lossy(other))),
                )),
            };
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = String::from_utf8_lossy(origin.as_bytes());
            let host = headers
                .get(header::HOST)
                .map(|h| String::from_utf8_lossy(h.as_bytes()).to_ascii_lowercase());
            let origin_authority = origin
                .split_once("://")
                .map(|(_, rest)| rest.trim_end_matches('/').to_ascii_lowercase());
            if origin_authority.is_none() || origin_authority != host {
                return Err(Refusal::CrossSite(
                    method.to_string(),
                    format!("Origin: {}", clip(&origin)),
                ));
            }
        }
        Ok(())
    }
}

async fn guard(State(boundary): State<BrowserBoundary>, request: Request, next: Next) -> Response {
    if let Err(refusal) = boundary.check(request.method(), request.headers()) {
        tracing::info!(path = %request.uri().path(), %refusal, "refused at the browser boundary");
        return refusal.into_response();
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A client-supplied value, cut to a length that keeps errors and logs small.
fn clip(text: &str) -> String {
    const MAX_CHARS: usize = 100;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn loopback_and_addresses_are_always_allowed_other_names_only_when_listed() {
        let hosts = HostAllowlist::default();
        for allowed in [
            "127.0.0.1:8000",
            "127.0.0.1",
            "[::1]:8000",
            "::1",
            "10.1.2.3:80",
            "localhost",
            "LOCALHOST:8000",
            "app.localhost:3000",
            "localhost.",
        ] {
            assert!(hosts.allows(allowed), "{allowed}");
        }
        for refused in [
            "evil.example",
            "evil.example:8000",
            "localhost.evil.example",
            "fake-sentry.evil",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
        assert!(hosts.allows("fake-sentry:8000"), "a compose service name");
        let hosts = hosts
            .with_names(["fake-sentry.internal, .svc.local", ""])
            .with_url_host("http://public.example:9000/");
        assert!(hosts.allows("fake-sentry.internal:8000"));
        assert!(hosts.allows("a.svc.local"));
        assert!(!hosts.allows("svc.local.evil"));
        assert!(!hosts.allows("xsvc.local"));
        assert!(hosts.allows("public.example"));
        assert!(
            HostAllowlist::default()
                .with_names(["*"])
                .allows("anything.example")
        );
    }

    #[test]
    fn only_local_pages_and_listed_names_are_trusted_origins() {
        let hosts = HostAllowlist::default().with_names(["dev.example"]);
        for trusted in [
            "http://localhost:3000",
            "http://127.0.0.1:5173",
            "http://[::1]:8080",
            "https://app.localhost",
            "http://dev.example:3000",
        ] {
            assert!(hosts.allows_origin(trusted), "{trusted}");
        }
        for untrusted in [
            "https://evil.example",
            "http://10.0.0.5:3000",
            "null",
            "http://intranet",
        ] {
            assert!(!hosts.allows_origin(untrusted), "{untrusted}");
        }
    }

    #[test]
    fn cross_site_state_changes_are_refused_same_origin_and_non_browsers_pass() {
        let boundary = BrowserBoundary::default();
        let post = Method::POST;
        let host = ("host", "127.0.0.1:8000");
        assert!(boundary.check(&post, &headers(&[host])).is_ok());
        assert!(
            boundary
                .check(&post, &headers(&[host, ("sec-fetch-site", "same-origin")]))
                .is_ok()
        );
        assert!(
            boundary
                .check(
                    &post,
                    &headers(&[host, ("origin", "http://127.0.0.1:8000")])
                )
                .is_ok()
        );
        for marker in [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
            ("origin", "https://evil.example"),
            ("origin", "http://127.0.0.1:3000"),
            ("origin", "null"),
        ] {
            let refused = boundary.check(&post, &headers(&[host, marker]));
            assert!(matches!(refused, Err(Refusal::CrossSite(..))), "{marker:?}");
        }
        // Reads are not refused for their origin: without CORS headers the page cannot read.
        assert!(
            boundary
                .check(
                    &Method::GET,
                    &headers(&[host, ("sec-fetch-site", "cross-site")])
                )
                .is_ok()
        );
        assert!(matches!(
            boundary.check(&Method::GET, &headers(&[("host", "rebound.example:8000")])),
            Err(Refusal::HostNotAllowed(_))
        ));
    }

    #[test]
    fn refusals_quote_at_most_a_hundred_characters_of_what_was_sent() {
        let long = format!("{}.example", "a".repeat(10_000));
        let refusal = BrowserBoundary::default()
            .check(&Method::GET, &headers(&[("host", &long)]))
            .unwrap_err();
        assert!(refusal.to_string().len() < 300, "{refusal}");
    }
}
