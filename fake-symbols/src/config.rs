//! Configuration: where symbols live, who may upload, the limits, and the faults at start.
//! Every size has a named limit with a documented default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::FaultSpec;

/// Tecken's default `ALLOW_UPLOAD_BY_DOWNLOAD_DOMAINS`.
pub const TECKEN_DOWNLOAD_DOMAINS: [&str; 4] = [
    "queue.taskcluster.net",
    "firefox-ci-tc.services.mozilla.com",
    "stage.taskcluster.nonprod.cloudops.mozgcp.net",
    "tecken-system-tests.symbols.nonprod.webservices.mozgcp.net",
];

/// What an upload token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// `upload.upload_symbols`: regular uploads.
    Upload,
    /// `upload.upload_try_symbols`: try uploads only.
    UploadTry,
    /// `upload.view_all_uploads`: no upload permission (uploads are `Forbidden`).
    ViewAllUploads,
}

/// An API token (`Auth-Token` header value, without any `-comment`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub key: String,
    pub permission: Permission,
    #[serde(default = "default_email")]
    pub email: String,
    /// Unix seconds; the token is refused after it (`API Token found but expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// An inactive user's token is refused (`API Token matched but user not active`).
    #[serde(default = "yes")]
    pub active: bool,
}

fn default_email() -> String {
    "uploader@example.com".to_string()
}

fn yes() -> bool {
    true
}

/// The tokens file (TOML): `[[tokens]]` tables with `key`, `permission`, optional `email`,
/// `expires_at`, `active`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensFile {
    #[serde(default)]
    pub tokens: Vec<Token>,
}

impl Token {
    /// `KEY:upload|upload_try[:EMAIL]`, the command-line form.
    pub fn parse_flag(spec: &str) -> Result<Self, String> {
        let mut parts = spec.splitn(3, ':');
        let key = parts.next().unwrap_or_default();
        let permission = match parts.next() {
            Some("upload") | None => Permission::Upload,
            Some("upload_try") => Permission::UploadTry,
            Some("view_all_uploads") => Permission::ViewAllUploads,
            Some(other) => {
                return Err(format!(
                    "unknown permission {other:?} (expected upload or upload_try)"
                ));
            }
        };
        if key.is_empty() || key.contains('-') {
            return Err("a token key must be non-empty and contain no '-'".to_string());
        }
        Ok(Self {
            key: key.to_string(),
            permission,
            email: parts.next().map_or_else(default_email, str::to_string),
            expires_at: None,
            active: true,
        })
    }
}

/// Upload-by-download (`url=`) rules.
#[derive(Debug, Clone)]
pub struct UrlUploads {
    /// Hosts (with port when not the default) that may be downloaded from.
    pub allowed_domains: Vec<String>,
    /// Tecken's `ALLOW_UPLOAD_BY_ANY_DOMAIN`: skips both the https and the domain checks.
    pub allow_any_domain: bool,
    /// Require `https` (Tecken always does unless any domain is allowed).
    pub require_https: bool,
    /// Redirects followed by the HEAD probe (Tecken: 5). Every hop is checked against the
    /// scheme and domain rules (host and port) before it is requested.
    pub max_redirects: usize,
    /// Time for the whole fetch: every HEAD hop plus the download. Default 300 s.
    pub timeout: Duration,
}

impl Default for UrlUploads {
    fn default() -> Self {
        Self {
            allowed_domains: TECKEN_DOWNLOAD_DOMAINS.map(str::to_string).to_vec(),
            allow_any_domain: false,
            require_https: true,
            max_redirects: 5,
            timeout: Duration::from_secs(300),
        }
    }
}

/// Size and count limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest upload body (zip) accepted; 413 above. Default 4 GiB (Tecken's LB allows 2 GB;
    /// the 2022 upload that broke it was 2,644,960,066 bytes).
    pub max_upload_bytes: u64,
    /// Largest single extracted member. Default 4 GiB.
    pub max_member_bytes: u64,
    /// Most members in one zip (read from its central directory before anything is
    /// extracted). Default 100,000.
    pub max_members: usize,
    /// Bytes extracted from one zip, all members together, counted while extracting (a zip
    /// bomb stops here). Default 16 GiB.
    pub max_extracted_bytes: u64,
    /// Parts in one multipart upload body, counted while parsing. Default 100.
    pub max_form_parts: usize,
    /// Bytes of one multipart part's header block (and of the preamble before the first
    /// boundary), counted while parsing: the parser buffers them whole. Default 64 KiB.
    pub max_part_header_bytes: usize,
    /// Largest synthetic sym a fault may generate. Default 4 GiB.
    pub max_synthetic_bytes: u64,
    /// Jobs per symbolication request (Eliot's `MAX_JOBS`). Default 10.
    pub max_jobs: usize,
    /// Frames per symbolication request. Default 100,000.
    pub max_frames: usize,
    /// Largest symbolication request body. Default 10 MiB.
    pub max_symbolicate_body: usize,
    /// Parsed modules kept by symbolication, by their sym file size. Default 256 MiB.
    pub symbol_cache_bytes: u64,
    /// Largest fault spec or admin body. Default 1 MiB.
    pub max_admin_body: usize,
    /// Longest delay the latency faults may add to one request. Default 10 minutes.
    pub max_fault_latency: Duration,
    /// Most rules in a fault spec. Default 1,000.
    pub max_fault_rules: usize,
    /// Requests kept in the request log. Default 100,000.
    pub request_log_capacity: usize,
    /// Bytes the request log may hold (its entries' strings plus their fixed size); the
    /// oldest entries are evicted past it. Default 64 MiB.
    pub request_log_bytes: u64,
    /// Files per upload v2 request (Tecken's `UPLOAD_V2_MAX_FILES_PER_REQUEST`). Default 1024.
    pub max_upload_v2_files: usize,
    /// Upload v2 resumable sessions waiting for their bytes; a v2 request that would open more
    /// answers 503. Each holds at most one staging file of up to `max_member_bytes`. Default
    /// 10,000.
    pub max_upload_sessions: usize,
    /// How long an upload v2 session URL stays valid after `POST /upload/v2/` handed it out;
    /// then its staging file is deleted and the URL answers 404. Default one week, as a GCS
    /// resumable session URI.
    pub upload_session_ttl: Duration,
    /// Bytes the pending upload v2 sessions may stage, all together: each session reserves
    /// what its declared file may take on the wire when it is opened, and a v2 request whose
    /// sessions would pass this answers 507. Default 32 GiB.
    pub max_upload_session_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 4 << 30,
            max_member_bytes: 4 << 30,
            max_members: 100_000,
            max_extracted_bytes: 16 << 30,
            max_form_parts: 100,
            max_part_header_bytes: 64 << 10,
            max_synthetic_bytes: 4 << 30,
            max_jobs: 10,
            max_frames: 100_000,
            max_symbolicate_body: 10 << 20,
            symbol_cache_bytes: 256 << 20,
            max_admin_body: 1 << 20,
            max_fault_latency: Duration::from_secs(600),
            max_fault_rules: 1000,
            request_log_capacity: 100_000,
            request_log_bytes: 64 << 20,
            max_upload_v2_files: 1024,
            max_upload_sessions: 10_000,
            upload_session_ttl: Duration::from_secs(7 * 86_400),
            max_upload_session_bytes: 32 << 30,
        }
    }
}

/// Everything a server needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Symbols directory (pre-seeded or empty); a temporary directory when `None`.
    pub symbols_dir: Option<PathBuf>,
    /// Base URL clients reach this server at (for redirects and download URLs); the bound
    /// address when `None`.
    pub public_url: Option<String>,
    /// Answer found files with a 302 to a storage URL served by this process, like Tecken in
    /// production (HEAD still answers 200).
    pub redirect_to_storage: bool,
    pub tokens: Vec<Token>,
    /// Names containing one of these are refused in uploads (`DISALLOWED_SYMBOLS_SNIPPETS`).
    pub disallowed_snippets: Vec<String>,
    pub url_uploads: UrlUploads,
    pub limits: Limits,
    pub faults: FaultSpec,
    /// Connection limits of the HTTP edge: open connections, the request head's deadline,
    /// header count and size.
    pub connection: http_edge::ConnectionLimits,
    /// Host names the admin endpoints (`/__fault__`, `/__requests__`) answer to, besides IP
    /// literals, dotless names, `localhost` and the `public_url`'s host (`*`: any; DNS
    /// rebinding defence).
    pub allowed_hosts: Vec<String>,
    /// The `upload_api_version` `/upload/auth_info/` reports for every token (Tecken's
    /// per-token `preferred_upload_api_version`, 1 or 2); the `upload-symbols` CLI uses upload
    /// v2 when it is 2. Both APIs are served either way. Default 1.
    pub upload_api_version: u8,
}

impl Limits {
    /// The bounds fault specs are checked against.
    pub fn fault_limits(&self) -> crate::faults::FaultLimits {
        crate::faults::FaultLimits {
            max_synthetic: self.max_synthetic_bytes,
            max_latency: self.max_fault_latency,
            max_rules: self.max_fault_rules,
        }
    }
}

impl Config {
    /// A server on `127.0.0.1:0` with a temporary symbols directory: what tests use.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            symbols_dir: None,
            public_url: None,
            redirect_to_storage: false,
            tokens: Vec::new(),
            disallowed_snippets: vec!["qcom/proprietary".to_string()],
            url_uploads: UrlUploads::default(),
            limits: Limits::default(),
            faults: FaultSpec::default(),
            connection: http_edge::ConnectionLimits::default(),
            allowed_hosts: Vec::new(),
            upload_api_version: 1,
        }
    }
}

/// Parses a size like `700MB`, `4GiB`, `65536` with the meaning every Understudy service
/// gives it ([`http_edge::ByteSize`]: `MB` = 10^6, `MiB` = 2^20).
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.parse::<http_edge::ByteSize>()
        .map(http_edge::ByteSize::bytes)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_64_bit() {
        assert_eq!(parse_size("2644960066").unwrap(), 2_644_960_066);
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("700MB").unwrap(), 700_000_000);
        assert!(parse_size("12XB").is_err());
    }

    #[test]
    fn token_flags() {
        let t = Token::parse_flag("abc:upload_try:me@example.com").unwrap();
        assert_eq!(t.permission, Permission::UploadTry);
        assert_eq!(t.email, "me@example.com");
        assert!(Token::parse_flag("a-b:upload").is_err());
        let file: TokensFile =
            toml::from_str("[[tokens]]\nkey = \"k1\"\npermission = \"upload\"\nexpires_at = 5\n")
                .unwrap();
        assert_eq!(file.tokens[0].expires_at, Some(5));
    }
}
