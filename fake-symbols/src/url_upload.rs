//! Upload by download (`url=`): Tecken's checks on the URL, its HEAD probe with manually
//! followed redirects, then a streamed GET into a staging file.

use std::io::Write;

use reqwest::Url;
use reqwest_012 as reqwest;

use crate::config::UrlUploads;
use crate::error::UploadError;
use crate::server::AppState;
use crate::staging;

/// A downloaded zip waiting for extraction.
pub struct StagedZip {
    pub file: tempfile::TempPath,
    pub size: u64,
    pub filename: String,
}

/// Decodes `application/x-www-form-urlencoded`.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// `host[:port]` as Python's `urlparse(url).netloc` shows it (without userinfo).
fn netloc(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Tecken's checks on one URL (the first and every redirect hop): `https` unless `http` is
/// allowed, and `host[:port]` in the allowlist, so a redirect can lead neither to another host
/// nor to another port of an allowed one. With `allow_any_domain` only the scheme must be one
/// the client speaks (`http` or `https`).
pub fn check_url(rules: &UrlUploads, url: &Url) -> Result<(), UploadError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UploadError::InsecureUrl);
    }
    if rules.allow_any_domain {
        return Ok(());
    }
    if rules.require_https && url.scheme() != "https" {
        return Err(UploadError::InsecureUrl);
    }
    let domain = netloc(url);
    if !rules.allowed_domains.contains(&domain) {
        return Err(UploadError::Domain(domain));
    }
    Ok(())
}

/// Checks, probes and downloads `url` under the configured rules, all within the configured
/// time (`UrlUploads::timeout` covers every hop and the download together).
pub async fn fetch(state: &AppState, url: &str) -> Result<StagedZip, UploadError> {
    let timeout = state.config.url_uploads.timeout;
    tokio::time::timeout(timeout, fetch_unbounded(state, url))
        .await
        .unwrap_or_else(|_| {
            Err(UploadError::UrlErrored {
                url: url.to_string(),
                code: format!("timed out after {} s", timeout.as_secs_f64()),
            })
        })
}

async fn fetch_unbounded(state: &AppState, url: &str) -> Result<StagedZip, UploadError> {
    let rules = &state.config.url_uploads;
    let parsed = Url::parse(url).map_err(|_| UploadError::InsecureUrl)?;
    check_url(rules, &parsed)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(rules.timeout)
        .connect_timeout(rules.timeout.min(std::time::Duration::from_secs(30)))
        .build()
        .map_err(|e| UploadError::Internal(e.to_string()))?;
    // HEAD, following redirects by hand (Tecken: at most 5), each hop checked before it is
    // requested.
    let mut current = parsed;
    let mut hops = 0;
    let size = loop {
        let response =
            client
                .head(current.clone())
                .send()
                .await
                .map_err(|e| UploadError::UrlErrored {
                    url: current.to_string(),
                    code: e.to_string(),
                })?;
        let status = response.status();
        if status.is_redirection() {
            hops += 1;
            if hops > rules.max_redirects {
                return Err(UploadError::TooManyRedirects(url.to_string()));
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| current.join(l).ok())
                .ok_or_else(|| UploadError::UrlNotFound {
                    url: current.to_string(),
                    code: status.as_u16(),
                })?;
            check_url(rules, &location)?;
            current = location;
            continue;
        }
        if status.is_client_error() {
            return Err(UploadError::UrlNotFound {
                url: current.to_string(),
                code: status.as_u16(),
            });
        }
        if status.is_server_error() {
            return Err(UploadError::UrlErrored {
                url: current.to_string(),
                code: status.as_u16().to_string(),
            });
        }
        break response.content_length();
    };
    let limit = state.config.limits.max_upload_bytes;
    if size.is_some_and(|s| s > limit) {
        return Err(UploadError::TooLarge(limit));
    }
    let filename = current
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default()
        .to_string();
    if !filename.to_ascii_lowercase().ends_with(".zip") {
        let extension = filename
            .rfind('.')
            .map_or("", |i| &filename[i..])
            .to_ascii_lowercase();
        return Err(UploadError::Extension(extension));
    }
    // The GET goes to where the HEAD ended; redirects are not followed (the client's policy is
    // `none`), so a GET-only redirect is a non-200 answer.
    let response =
        client
            .get(current.clone())
            .send()
            .await
            .map_err(|e| UploadError::UrlErrored {
                url: current.to_string(),
                code: e.to_string(),
            })?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(UploadError::UrlNon200(current.to_string()));
    }
    if response.content_length().is_some_and(|s| s > limit) {
        return Err(UploadError::TooLarge(limit));
    }
    let staged = tempfile::NamedTempFile::new_in(state.store.staging_dir())?;
    let (file, path) = staged.into_parts();
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let written = staging::copy_body(response.bytes_stream(), &mut writer, limit, |e| {
        UploadError::UrlErrored {
            url: current.to_string(),
            code: e.to_string(),
        }
    })
    .await?;
    writer.flush()?;
    Ok(StagedZip {
        file: path,
        size: written,
        filename,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hop_is_checked_for_scheme_host_and_port() {
        let rules = UrlUploads {
            allowed_domains: vec!["example.com".into(), "127.0.0.1:8000".into()],
            ..UrlUploads::default()
        };
        let check = |u: &str| check_url(&rules, &Url::parse(u).unwrap()).map_err(|e| e.to_string());
        assert!(check("https://example.com/a.zip").is_ok());
        assert!(check("https://example.com:443/a.zip").is_ok());
        assert_eq!(
            check("https://example.com:8443/a.zip").unwrap_err(),
            "Not an allowed domain ('example.com:8443') to download from."
        );
        assert!(check("https://127.0.0.1:8000/a.zip").is_ok());
        assert!(check("https://127.0.0.1:8001/a.zip").is_err());
        assert_eq!(
            check("http://example.com/a.zip").unwrap_err(),
            "Insecure URL"
        );
        assert_eq!(check("file:///etc/passwd").unwrap_err(), "Insecure URL");
        let any = UrlUploads {
            allow_any_domain: true,
            ..UrlUploads::default()
        };
        assert!(check_url(&any, &Url::parse("http://anywhere:1/a.zip").unwrap()).is_ok());
        assert!(check_url(&any, &Url::parse("ftp://anywhere/a.zip").unwrap()).is_err());
    }
}
