//! Submitting many generated crashes: to a collector over HTTP, or as request bodies on disk
//! (`crash-generator submit`), with a progress bar.

use std::path::PathBuf;

use crate::crash::Crash;
use crate::output::progress_bar;
use crate::profile::Profile;
use crate::submission::{self, AnnotationEncoding, Submission};

/// Where the submissions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// POST to a collector's submit URL.
    Collector(String),
    /// Write `<name>.multipart` bodies into a directory.
    Directory(PathBuf),
}

/// How each submission is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Encoding {
    pub annotations: AnnotationEncoding,
    pub gzip: bool,
}

/// What happened to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchOutcome {
    pub sent: u64,
    /// `(crash name, HTTP status, body)` of every submission not answered with a crash id
    /// (Antenna answers throttled crashes with 200 `Discarded=rule_...`).
    pub rejected: Vec<(String, u16, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("posting to {url}: {source}")]
    Post { url: String, source: reqwest::Error },
    #[error("cannot start the HTTP runtime: {0}")]
    Runtime(std::io::Error),
}

/// Generates crashes for seeds `first_seed..first_seed + count` and submits each.
pub fn submit_batch(
    profile: &Profile,
    first_seed: u64,
    count: u64,
    encoding: Encoding,
    destination: &Destination,
) -> Result<BatchOutcome, SubmitError> {
    let bar = progress_bar(count, "submitting");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SubmitError::Runtime)?;
    let client = reqwest::Client::new();
    let mut outcome = BatchOutcome::default();
    for seed in first_seed..first_seed + count {
        let crash = Crash::generate(profile, seed);
        let sub = Submission {
            annotation_encoding: encoding.annotations,
            gzip: encoding.gzip,
            ..Submission::for_crash(&crash)
        };
        let encoded = submission::build(&sub, &submission::boundary_for(seed));
        match destination {
            Destination::Directory(dir) => {
                let path = dir.join(format!("{}.multipart", crash.name()));
                std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&path, &encoded.body))
                    .map_err(|source| SubmitError::Write { path, source })?;
            }
            Destination::Collector(url) => {
                let response = runtime
                    .block_on(submission::post(&client, url, &encoded))
                    .map_err(|source| SubmitError::Post {
                        url: url.clone(),
                        source,
                    })?;
                tracing::debug!(crash = %crash.name(), status = response.status, body = %response.body.trim_end(), "collector answered");
                if response.status != 200 || response.crash_id().is_none() {
                    bar.println(format!(
                        "{}: HTTP {} {}",
                        crash.name(),
                        response.status,
                        response.body.trim_end()
                    ));
                    outcome
                        .rejected
                        .push((crash.name(), response.status, response.body));
                }
            }
        }
        outcome.sent += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(outcome)
}
