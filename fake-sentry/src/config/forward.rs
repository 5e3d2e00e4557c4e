//! Forwarding settings: where `--forward DSN` sends envelopes, and the queue's bounds. The
//! forwarder itself (`crate::forward`) runs them.

use std::str::FromStr;
use std::time::Duration;

/// Where forwarded envelopes go, from a DSN `SCHEME://KEY@HOST[:PORT][/PATH]/PROJECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub dsn: String,
    pub public_key: String,
    /// `SCHEME://HOST[:PORT][/PATH]/api/PROJECT/envelope/`.
    pub envelope_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid upstream DSN {dsn:?}: {reason}")]
pub struct BadDsn {
    pub dsn: String,
    pub reason: &'static str,
}

impl FromStr for Upstream {
    type Err = BadDsn;

    fn from_str(dsn: &str) -> Result<Self, BadDsn> {
        let bad = |reason| BadDsn {
            dsn: dsn.to_string(),
            reason,
        };
        let (scheme, rest) = dsn
            .split_once("://")
            .ok_or_else(|| bad("no scheme (expected http:// or https://)"))?;
        if scheme != "http" && scheme != "https" {
            return Err(bad("the scheme must be http or https"));
        }
        let (key, host_and_path) = rest
            .split_once('@')
            .ok_or_else(|| bad("no public key (expected KEY@HOST)"))?;
        // A DSN key may carry a deprecated secret after a colon; only the public part is sent.
        let public_key = key.split(':').next().unwrap_or_default();
        if public_key.is_empty() {
            return Err(bad("the public key is empty"));
        }
        let host_and_path = host_and_path.trim_end_matches('/');
        let (base, project) = host_and_path
            .rsplit_once('/')
            .ok_or_else(|| bad("no project id (expected HOST/PROJECT)"))?;
        if base.is_empty() {
            return Err(bad("the host is empty"));
        }
        if project.is_empty() || !project.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the project id must be numeric"));
        }
        Ok(Self {
            dsn: dsn.to_string(),
            public_key: public_key.to_string(),
            envelope_url: format!("{scheme}://{base}/api/{project}/envelope/"),
        })
    }
}

/// Forwarding settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardConfig {
    pub upstream: Upstream,
    /// Envelopes waiting to be sent before new ones are dropped.
    pub queue: usize,
    /// Bytes of envelopes waiting or being sent before new ones are dropped.
    pub queue_bytes: usize,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl ForwardConfig {
    pub fn new(upstream: Upstream) -> Self {
        Self {
            upstream,
            queue: 1000,
            // One envelope of the largest decompressed size (200 MiB) fits.
            queue_bytes: 256 << 20,
            timeout: Duration::from_secs(30),
        }
    }
}
