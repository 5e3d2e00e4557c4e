//! Talking to the symbols server during a run: uploading the corpus' symbols through
//! Tecken's upload API, setting faults, and reading the request log (fake-symbols' admin API:
//! `/__fault__`, `/__requests__`).

use std::collections::BTreeMap;

use fake_symbols::{FaultRule, FaultSpec};
use serde::Deserialize;

use crate::report::{ModuleFetch, SymbolTraffic};

#[derive(Debug, thiserror::Error)]
pub enum SymbolsServerError {
    #[error("symbols server {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("symbols server {url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
}

/// Largest zip sent in one upload; bigger corpora are split.
pub const MAX_UPLOAD_ZIP: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub bytes: u64,
}

#[derive(Deserialize)]
struct RequestList {
    requests: Vec<LoggedRequest>,
}

pub struct SymbolsServer {
    pub url: String,
    client: reqwest::Client,
}

impl SymbolsServer {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
        }
    }

    async fn check(
        &self,
        url: String,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SymbolsServerError> {
        let response = request
            .send()
            .await
            .map_err(|source| SymbolsServerError::Http {
                url: url.clone(),
                source,
            })?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            return Err(SymbolsServerError::Status {
                url,
                status,
                body: body.chars().take(500).collect(),
            });
        }
        Ok(response)
    }

    /// Uploads `files` (`<debug_file>/<debug_id>/<sym_file>` to bytes) as Firefox's build
    /// does: zips posted to `/upload/` with an `Auth-Token`. Returns the bytes uploaded.
    pub async fn upload(
        &self,
        files: &BTreeMap<String, Vec<u8>>,
        token: &str,
    ) -> Result<u64, SymbolsServerError> {
        let mut sent = 0u64;
        let mut batch: Vec<(String, Vec<u8>)> = Vec::new();
        let mut batch_bytes = 0usize;
        let mut batches = Vec::new();
        for (path, bytes) in files {
            if batch_bytes + bytes.len() > MAX_UPLOAD_ZIP && !batch.is_empty() {
                batches.push(std::mem::take(&mut batch));
                batch_bytes = 0;
            }
            batch_bytes += bytes.len();
            batch.push((path.clone(), bytes.clone()));
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        for batch in batches {
            let zip = crash_generator::symbols_zip(&batch);
            sent += zip.len() as u64;
            let part = reqwest::multipart::Part::bytes(zip)
                .file_name("symbols.zip")
                .mime_str("application/zip")
                .map_err(|source| SymbolsServerError::Http {
                    url: self.url.clone(),
                    source,
                })?;
            let form = reqwest::multipart::Form::new().part("symbols.zip", part);
            let url = format!("{}/upload/", self.url);
            let request = self
                .client
                .post(&url)
                .header("Auth-Token", token)
                .multipart(form);
            self.check(url, request).await?;
        }
        Ok(sent)
    }

    pub async fn set_faults(&self, rules: &[FaultRule]) -> Result<(), SymbolsServerError> {
        let url = format!("{}/__fault__", self.url);
        let spec = FaultSpec {
            seed: 0,
            rules: rules.to_vec(),
        };
        let request = self.client.put(&url).json(&spec);
        self.check(url, request).await.map(drop)
    }

    pub async fn clear_faults(&self) -> Result<(), SymbolsServerError> {
        let url = format!("{}/__fault__", self.url);
        let request = self.client.delete(&url);
        self.check(url, request).await.map(drop)
    }

    pub async fn clear_requests(&self) -> Result<(), SymbolsServerError> {
        let url = format!("{}/__requests__", self.url);
        let request = self.client.delete(&url);
        self.check(url, request).await.map(drop)
    }

    /// Clears the request log if the server keeps one: `false` when it has none (Tecken
    /// answers 404 or 405 to `/__requests__`), so its traffic cannot be counted.
    pub async fn try_clear_requests(&self) -> Result<bool, SymbolsServerError> {
        match self.clear_requests().await {
            Ok(()) => Ok(true),
            Err(SymbolsServerError::Status {
                status: 404 | 405, ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Symbol downloads (`GET`/`HEAD` of sym paths) logged since the last clear.
    pub async fn downloads(&self) -> Result<Vec<LoggedRequest>, SymbolsServerError> {
        let url = format!("{}/__requests__", self.url);
        let request = self.client.get(&url);
        let list: RequestList = self
            .check(url.clone(), request)
            .await?
            .json()
            .await
            .map_err(|source| SymbolsServerError::Http { url, source })?;
        Ok(list
            .requests
            .into_iter()
            .filter(|r| {
                (r.method == "GET" || r.method == "HEAD")
                    && !r.path.starts_with("/__")
                    && r.path.matches('/').count() >= 3
            })
            .collect())
    }
}

/// Per-path totals of a request log.
pub fn traffic(requests: &[LoggedRequest]) -> SymbolTraffic {
    let mut per: BTreeMap<&str, ModuleFetch> = BTreeMap::new();
    for r in requests {
        let entry = per.entry(r.path.as_str()).or_insert_with(|| ModuleFetch {
            path: r.path.clone(),
            ..ModuleFetch::default()
        });
        entry.requests += 1;
        entry.bytes += r.bytes;
        entry.status = r.status;
    }
    let per_module: Vec<ModuleFetch> = per.into_values().collect();
    SymbolTraffic {
        requests: requests.len() as u64,
        bytes: requests.iter().map(|r| r.bytes).sum(),
        modules: per_module.len() as u64,
        max_requests_per_module: per_module.iter().map(|m| m.requests).max().unwrap_or(0),
        per_module,
    }
}
