//! `Auth-Token` checks, as Tecken's token middleware and permission decorators do them.

use axum::http::HeaderMap;

use crate::config::{Permission, Token};
use crate::error::UploadError;

/// The token a request authenticates with, or the 403 Tecken answers.
pub fn authenticate<'a>(
    tokens: &'a [Token],
    headers: &HeaderMap,
    now_unix: i64,
) -> Result<&'a Token, UploadError> {
    let raw = headers
        .get("auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(UploadError::NoToken)?;
    // Anything after the first `-` is a comment (`E468...835-uploadtry-20230913`).
    let key = raw.split('-').next().unwrap_or_default();
    // Constant time per token, so response times do not tell how much of a guess matched.
    let token = tokens
        .iter()
        .find(|t| http_edge::secret_eq(key.as_bytes(), t.key.as_bytes()))
        .ok_or(UploadError::TokenNotMatched)?;
    if token.expires_at.is_some_and(|at| at <= now_unix) {
        return Err(UploadError::TokenExpired);
    }
    if !token.active {
        return Err(UploadError::UserNotActive);
    }
    Ok(token)
}

/// Tecken's `api_any_permission_required("upload_symbols", "upload_try_symbols")`.
pub fn require_upload(token: &Token) -> Result<(), UploadError> {
    match token.permission {
        Permission::Upload | Permission::UploadTry => Ok(()),
        Permission::ViewAllUploads => Err(UploadError::Forbidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(key: &str) -> Token {
        Token::parse_flag(&format!("{key}:upload")).unwrap()
    }

    #[test]
    fn comment_after_dash_is_ignored_and_errors_are_tecken_s() {
        let mut tokens = vec![token("abc"), token("old"), token("gone")];
        tokens[1].expires_at = Some(10);
        tokens[2].active = false;
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("auth-token", v.parse().unwrap());
            h
        };
        assert!(authenticate(&tokens, &headers("abc-uploadtry-20230913"), 100).is_ok());
        let err = |v| {
            authenticate(&tokens, &headers(v), 100)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("nope"), "API Token not matched");
        assert_eq!(err("old"), "API Token found but expired");
        assert_eq!(err("gone"), "API Token matched but user not active");
        assert_eq!(
            authenticate(&tokens, &HeaderMap::new(), 0)
                .unwrap_err()
                .to_string(),
            "This requires an Auth-Token to authenticate the request"
        );
    }
}
