//! Who sent a request: the Sentry public key and client name, from wherever the client put them.
//!
//! Relay looks in `X-Sentry-Auth`, `Authorization: Sentry …`, the `sentry_key` query parameter and,
//! for envelopes only, the `dsn` envelope header. Real SDKs disagree on which one they use (Python
//! and Rust send the header, JavaScript the query string), so all four are read. Relay refuses
//! requests that carry more than one; a test fake accepts them and records the first.

use std::collections::HashMap;

use http::HeaderMap;
use serde::Serialize;

/// Where the credentials of a request were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthSource {
    XSentryAuth,
    Authorization,
    Query,
    EnvelopeDsn,
    None,
}

impl AuthSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::XSentryAuth => "x_sentry_auth",
            Self::Authorization => "authorization",
            Self::Query => "query",
            Self::EnvelopeDsn => "envelope_dsn",
            Self::None => "none",
        }
    }
}

/// The credentials of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Auth {
    pub source: AuthSource,
    pub public_key: Option<String>,
    pub client: Option<String>,
    pub version: Option<String>,
}

impl Auth {
    pub fn none() -> Self {
        Self {
            source: AuthSource::None,
            public_key: None,
            client: None,
            version: None,
        }
    }
}

/// Parses `Sentry sentry_key=…, sentry_version=7, sentry_client=…` (the prefix is
/// case-insensitive; pairs are separated by commas).
pub fn parse_auth_header(value: &str) -> Option<HashMap<String, String>> {
    let value = value.trim();
    let prefix = value.get(..7)?;
    if !prefix.eq_ignore_ascii_case("sentry ") {
        return None;
    }
    let pairs = value[7..]
        .split(',')
        .filter_map(|pair| {
            let (key, val) = pair.split_once('=')?;
            Some((
                key.trim().to_string(),
                val.trim().trim_matches('"').to_string(),
            ))
        })
        .collect();
    Some(pairs)
}

fn from_pairs(source: AuthSource, pairs: &HashMap<String, String>) -> Auth {
    let non_empty = |key: &str| pairs.get(key).filter(|v| !v.is_empty()).cloned();
    Auth {
        source,
        public_key: non_empty("sentry_key"),
        client: non_empty("sentry_client"),
        version: non_empty("sentry_version"),
    }
}

/// Decodes an `application/x-www-form-urlencoded` query string into pairs.
#[cfg(test)]
pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    parse_query_limited(query, usize::MAX, usize::MAX).unwrap_or_default()
}

/// Why a query string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query string is longer than {limit} bytes (--max-query)")]
    TooLong { limit: usize },
    #[error("the query string has more than {limit} pairs (--max-query-pairs)")]
    TooManyPairs { limit: usize },
}

/// [`parse_query`] within limits: the length is checked first, and decoding stops at the pair
/// past `max_pairs`.
pub fn parse_query_limited(
    query: Option<&str>,
    max_pairs: usize,
    max_bytes: usize,
) -> Result<HashMap<String, String>, QueryError> {
    let Some(query) = query else {
        return Ok(HashMap::new());
    };
    if query.len() > max_bytes {
        return Err(QueryError::TooLong { limit: max_bytes });
    }
    let mut pairs = HashMap::new();
    for (n, pair) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
        if n >= max_pairs {
            return Err(QueryError::TooManyPairs { limit: max_pairs });
        }
        let (key, val) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.insert(percent_decode(key), percent_decode(val));
    }
    Ok(pairs)
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, escaped) {
            (_, Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The public key of a DSN such as `https://KEY@host/1` or `https://KEY:secret@host/1`.
pub fn key_from_dsn(dsn: &str) -> Option<String> {
    let rest = dsn.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    let key = userinfo.split(':').next()?;
    (!key.is_empty()).then(|| key.to_string())
}

/// Reads the credentials of a request from its headers and query string, falling back to the
/// envelope's `dsn` header when neither carries any.
pub fn extract(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    envelope_dsn: Option<&str>,
) -> Auth {
    let header_auth = |name: &str, source| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_auth_header)
            .map(|pairs| from_pairs(source, &pairs))
    };
    let mut auth = header_auth("x-sentry-auth", AuthSource::XSentryAuth)
        .or_else(|| header_auth("authorization", AuthSource::Authorization))
        .or_else(|| {
            query
                .contains_key("sentry_key")
                .then(|| from_pairs(AuthSource::Query, query))
        })
        .or_else(|| {
            let key = key_from_dsn(envelope_dsn?)?;
            Some(Auth {
                source: AuthSource::EnvelopeDsn,
                public_key: Some(key),
                client: None,
                version: None,
            })
        })
        .unwrap_or_else(Auth::none);
    if auth.client.is_none() {
        // Relay falls back to the User-Agent for the client name.
        auth.client = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
    }
    auth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn reads_x_sentry_auth_first() {
        let h = headers(&[(
            "x-sentry-auth",
            "Sentry sentry_key=abc, sentry_version=7, sentry_client=sentry.python/2.75.0",
        )]);
        let auth = extract(&h, &parse_query(Some("sentry_key=other")), None);
        assert_eq!(auth.source, AuthSource::XSentryAuth);
        assert_eq!(auth.public_key.as_deref(), Some("abc"));
        assert_eq!(auth.client.as_deref(), Some("sentry.python/2.75.0"));
        assert_eq!(auth.version.as_deref(), Some("7"));
    }

    #[test]
    fn reads_authorization_header_case_insensitively() {
        let h = headers(&[("authorization", "sentry sentry_key=k1,sentry_version=7")]);
        let auth = extract(&h, &HashMap::new(), None);
        assert_eq!(auth.source, AuthSource::Authorization);
        assert_eq!(auth.public_key.as_deref(), Some("k1"));
    }

    #[test]
    fn bearer_authorization_is_not_sentry_auth() {
        let h = headers(&[("authorization", "Bearer token")]);
        assert_eq!(extract(&h, &HashMap::new(), None).source, AuthSource::None);
    }

    #[test]
    fn reads_query_string_like_javascript_sends_it() {
        let q = parse_query(Some(
            "sentry_version=7&sentry_key=pub&sentry_client=sentry.javascript.node%2F10.78.0",
        ));
        let auth = extract(&HeaderMap::new(), &q, None);
        assert_eq!(auth.source, AuthSource::Query);
        assert_eq!(auth.public_key.as_deref(), Some("pub"));
        assert_eq!(
            auth.client.as_deref(),
            Some("sentry.javascript.node/10.78.0")
        );
    }

    #[test]
    fn falls_back_to_envelope_dsn_and_user_agent() {
        let h = headers(&[("user-agent", "curl/8")]);
        let auth = extract(
            &h,
            &HashMap::new(),
            Some("http://key:secret@localhost:8000/3"),
        );
        assert_eq!(auth.source, AuthSource::EnvelopeDsn);
        assert_eq!(auth.public_key.as_deref(), Some("key"));
        assert_eq!(auth.client.as_deref(), Some("curl/8"));
    }

    #[test]
    fn percent_decoding_handles_bad_escapes() {
        assert_eq!(percent_decode("a%2Fb+c%zz%4"), "a/b c%zz%4");
    }
}
