//! The `sentry-native` stage: the crashes of corpus entries with `submit = [.., "sentry"]` sent
//! to fake-sentry's minidump endpoint as sentry-native's Crashpad handler sends them, fake-sentry's
//! processing awaited, and what it made of each checked.
//!
//! Each crash is one `POST /api/{project}/minidump/?sentry_key=..&sentry_client=..`: a multipart
//! form (crash-generator's `submission::build`, the one writer of the format) with the dump as
//! `upload_file_minidump` and `sentry[release]`, `sentry[environment]` and `sentry[tags][crash]`
//! (the crash's name) as form fields, gzip-encoded unless `[sentry_native] gzip = false`. The
//! answer is the event id. The stage then waits on fake-sentry's long poll (`/api/wait/` with
//! `processing=processed` and `processing=failed` at once, so that the last dump ends the wait
//! whichever way it went; never a fixed sleep), reads each event's
//! `/api/items/{event_id}/processed`, and makes it a [`CrashOutcome`] of the processor
//! [`FAKE_SENTRY`]: the `processed` JSON against the crash's ground truth (`compare_json`), and
//! the signature fake-sentry computed against the harness's own signature of the in-process
//! processor's result for the same crash (a `vs minidump-processor: signature` mismatch).
//!
//! It talks to fake-sentry over HTTP only, so a built-in fake-sentry and one given by URL are
//! checked the same way (one given by URL must have been started with `--symbols-url`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crash_generator::submission::{AnnotationEncoding, MINIDUMP_FIELD, Submission, build};
use futures::StreamExt;
use indicatif::ProgressBar;
use serde::Deserialize;
use serde_json::Value;

use super::corpus::GeneratedCrash;
use super::outcome::{Processed, crash_outcome};
use super::{IN_PROCESS, ms};
use crate::report::{CrashOutcome, Mismatch};
use crate::scenario::SentryNativeSettings;

/// fake-sentry's results' processor name in reports.
pub const FAKE_SENTRY: &str = "fake-sentry";

/// The tag (`sentry[tags][crash]`) that names the crash in fake-sentry.
pub const CRASH_TAG: &str = "crash";

/// What the harness calls itself in `sentry_client`.
const CLIENT: &str = concat!("understudy-harness/", env!("CARGO_PKG_VERSION"));

/// Events whose processing is read at once.
const READ_CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum SentryNativeError {
    #[error("fake-sentry at {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("fake-sentry at {url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("fake-sentry's DSN {0:?} has no public key")]
    Dsn(String),
}

/// `/api/items/{event_id}/processed`, the fields the check reads.
#[derive(Debug, Clone, Deserialize)]
struct Processing {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    processed: Option<Value>,
}

impl Processing {
    fn pending(&self) -> bool {
        self.status == "pending"
    }
}

#[derive(Deserialize)]
struct Wait {
    satisfied: bool,
    count: usize,
}

#[derive(Deserialize)]
struct Newest {
    items: Vec<NewestItem>,
}

#[derive(Deserialize)]
struct NewestItem {
    seq: i64,
}

/// One crash sent: which, when, and the event id or why fake-sentry refused it.
struct Sent<'a> {
    crash: &'a GeneratedCrash,
    index: usize,
    /// When it was sent: its result's time runs from here until its processing was read.
    started: Instant,
    event: Result<String, String>,
}

/// A fake-sentry receiving crashes as sentry-native sends them.
pub(super) struct SentryNative<'a> {
    base: String,
    key: String,
    settings: &'a SentryNativeSettings,
    client: reqwest::Client,
}

impl<'a> SentryNative<'a> {
    /// `base` is fake-sentry's URL, `dsn` its DSN for the settings' project (the public key
    /// is taken from it).
    pub(super) fn new(
        base: &str,
        dsn: &str,
        settings: &'a SentryNativeSettings,
    ) -> Result<Self, SentryNativeError> {
        let key = dsn
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .map(|(key, _)| key.split(':').next().unwrap_or(key).to_string())
            .filter(|key| !key.is_empty())
            .ok_or_else(|| SentryNativeError::Dsn(dsn.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            key,
            settings,
            client: reqwest::Client::new(),
        })
    }

    /// Sends every crash whose entry submits it to fake-sentry, waits for their processing,
    /// and checks each. `in_process_json` is the in-process processor's result per crash
    /// (by index), the reference for signatures.
    pub(super) async fn check(
        &self,
        generated: &[GeneratedCrash],
        in_process_json: &[Option<Value>],
        progress: &ProgressBar,
    ) -> Result<Vec<CrashOutcome>, SentryNativeError> {
        let after = self.newest_seq().await?;
        let mut sent = Vec::new();
        for (index, crash) in generated.iter().enumerate() {
            if !crash.destinations.sentry {
                continue;
            }
            let started = Instant::now();
            let event = self.submit(crash).await?;
            sent.push(Sent {
                crash,
                index,
                started,
                event,
            });
        }
        let events: Vec<&str> = sent
            .iter()
            .filter_map(|s| s.event.as_deref().ok())
            .collect();
        let mut processing = self.wait(&events, after, progress).await?;
        let outcomes = sent
            .iter()
            .map(|s| {
                let reference = in_process_json.get(s.index).and_then(Option::as_ref);
                let result = match &s.event {
                    Ok(id) => Ok((id.clone(), processing.remove(id.as_str()))),
                    Err(refused) => Err(refused.clone()),
                };
                self.outcome(s.crash, result, reference, ms(s.started))
            })
            .collect();
        Ok(outcomes)
    }

    /// The newest item's sequence number: the wait counts only what comes after it (a
    /// long-lived fake-sentry holds earlier runs' items).
    async fn newest_seq(&self) -> Result<i64, SentryNativeError> {
        let newest: Newest = self.get_json("/api/items/?limit=1", &[]).await?;
        Ok(newest.items.first().map_or(0, |i| i.seq))
    }

    /// One crash, as sentry-native's Crashpad handler posts it. Returns the event id
    /// (32 hex digits), or why fake-sentry refused it.
    async fn submit(
        &self,
        crash: &GeneratedCrash,
    ) -> Result<Result<String, String>, SentryNativeError> {
        let s = self.settings;
        let annotations = BTreeMap::from([
            ("sentry[release]".to_string(), s.release.clone()),
            ("sentry[environment]".to_string(), s.environment.clone()),
            (format!("sentry[tags][{CRASH_TAG}]"), crash.name.clone()),
        ]);
        let submission = Submission {
            annotations,
            annotation_encoding: AnnotationEncoding::FormFields,
            dumps: vec![(
                MINIDUMP_FIELD.to_string(),
                crash.crash.minidump_bytes().to_vec(),
            )],
            gzip: s.gzip,
        };
        // A boundary of the kind Crashpad writes (random hex), fixed per crash.
        let boundary = format!("---MultipartBoundary-{:032x}---", crash.crash.seed);
        let encoded = build(&submission, &boundary);
        let url = format!("{}/api/{}/minidump/", self.base, s.project);
        let mut request = self
            .client
            .post(&url)
            .query(&[("sentry_client", CLIENT), ("sentry_key", &self.key)])
            .header(reqwest::header::CONTENT_TYPE, &encoded.content_type)
            .body(encoded.body);
        if let Some(encoding) = encoded.content_encoding {
            request = request.header(reqwest::header::CONTENT_ENCODING, encoding);
        }
        let http = |source| SentryNativeError::Http {
            url: url.clone(),
            source,
        };
        let response = request.send().await.map_err(http)?;
        let status = response.status();
        let body = response.text().await.map_err(http)?;
        if !status.is_success() {
            return Ok(Err(format!("refused: {} {}", status.as_u16(), body.trim())));
        }
        match uuid::Uuid::parse_str(body.trim()) {
            Ok(id) => Ok(Ok(id.simple().to_string())),
            Err(_) => Ok(Err(format!(
                "answered {status} without an event id: {body:?}"
            ))),
        }
    }

    /// Waits until each of `events` is processed or failed, or `wait_secs` pass, and returns
    /// each one's processing state as last read.
    ///
    /// Two long polls at once on fake-sentry's counts (this project's events of this release
    /// stored after `after`): one until `processed` ones number the events less those
    /// `failed`, one until one more has `failed`. The first answers once every event is done;
    /// the second, after a failure, sends the loop round to count again. Once the counts say
    /// every event is done, each is read; one still pending (other clients' events were
    /// counted too) raises the target.
    async fn wait<'e>(
        &self,
        events: &[&'e str],
        after: i64,
        progress: &ProgressBar,
    ) -> Result<BTreeMap<&'e str, Processing>, SentryNativeError> {
        let deadline = Instant::now() + Duration::from_secs(self.settings.wait_secs);
        let mut states: BTreeMap<&str, Processing> = BTreeMap::new();
        let mut target = events.len();
        progress.set_length(events.len() as u64);
        loop {
            let failed = self.count("failed", 0, after, Duration::ZERO).await?.count;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let wanted = target.saturating_sub(failed);
            let settled = remaining.is_zero()
                || tokio::select! {
                    processed = self.count("processed", wanted, after, remaining) => {
                        let processed = processed?;
                        progress.set_position((processed.count + failed).min(events.len()) as u64);
                        processed.satisfied
                    }
                    more_failed = self.count("failed", failed + 1, after, remaining) => {
                        more_failed?;
                        false
                    }
                }
                || Instant::now() >= deadline;
            if !settled {
                continue;
            }
            let unread: Vec<&str> = events
                .iter()
                .copied()
                .filter(|id| states.get(id).is_none_or(Processing::pending))
                .collect();
            let read: Vec<(&str, Result<Processing, SentryNativeError>)> =
                futures::stream::iter(unread)
                    .map(|id| async move { (id, self.processing(id).await) })
                    .buffered(READ_CONCURRENCY)
                    .collect()
                    .await;
            for (id, state) in read {
                states.insert(id, state?);
            }
            let pending = states.values().filter(|s| s.pending()).count();
            if pending == 0 || Instant::now() >= deadline {
                progress.finish_and_clear();
                return Ok(states);
            }
            target += pending;
        }
    }

    /// `/api/wait/` for at least `count` of this run's events in `status`.
    async fn count(
        &self,
        status: &str,
        count: usize,
        after: i64,
        timeout: Duration,
    ) -> Result<Wait, SentryNativeError> {
        let project = self.settings.project.to_string();
        let after = after.to_string();
        let count = count.to_string();
        let timeout = format!("{:.3}", timeout.as_secs_f64());
        self.get_json(
            "/api/wait/",
            &[
                ("type", "event"),
                ("project", &project),
                ("release", &self.settings.release),
                ("after", &after),
                ("processing", status),
                ("count", &count),
                ("timeout", &timeout),
            ],
        )
        .await
    }

    /// One event's processing state.
    async fn processing(&self, event_id: &str) -> Result<Processing, SentryNativeError> {
        self.get_json(&format!("/api/items/{event_id}/processed"), &[])
            .await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, SentryNativeError> {
        let url = format!("{}{path}", self.base);
        let http = |source| SentryNativeError::Http {
            url: url.clone(),
            source,
        };
        let response = self
            .client
            .get(&url)
            .query(query)
            .send()
            .await
            .map_err(http)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(SentryNativeError::Status {
                url,
                status: status.as_u16(),
                body: body.chars().take(500).collect(),
            });
        }
        response.json().await.map_err(http)
    }

    /// One crash's outcome: what fake-sentry processed against the ground truth, and its
    /// signature against the harness's of `reference` (the in-process result).
    fn outcome(
        &self,
        crash: &GeneratedCrash,
        result: Result<(String, Option<Processing>), String>,
        reference: Option<&Value>,
        millis: f64,
    ) -> CrashOutcome {
        let (event_id, state, processed) = match result {
            Err(refused) => (None, None, Processed::Failed(refused)),
            Ok((id, state)) => {
                let processed = match &state {
                    Some(s) if s.status == "processed" => match &s.processed {
                        Some(json) => Processed::Json(json.clone()),
                        None => Processed::Failed("processed without the processor's JSON".into()),
                    },
                    // `Name: detail`; the name is what the ground truth and the other
                    // processors' status give.
                    Some(s) if s.status == "failed" => {
                        let error = s.error.as_deref().unwrap_or("UnknownError");
                        let name = error.split_once(": ").map_or(error, |(name, _)| name);
                        Processed::Failed(name.to_string())
                    }
                    Some(s) => Processed::Failed(format!(
                        "still {} after {} s",
                        s.status, self.settings.wait_secs
                    )),
                    None => Processed::Failed("no processing state".into()),
                };
                (Some(id), state, processed)
            }
        };
        let mut outcome = crash_outcome(
            &crash.name,
            FAKE_SENTRY,
            event_id,
            &processed,
            Some(&crash.truth),
            millis,
        );
        if let (Processed::Json(_), Some(state)) = (&processed, &state) {
            // The signature is fake-sentry's own, not the harness's of fake-sentry's JSON.
            outcome.signature = state.signature.clone();
            if let Some(reference) = reference {
                // fake-sentry is sent the dump without Socorro's annotations, so its signature
                // is held to the stack's: the in-process output signed alone (which equals the
                // kept crash's unless an annotation siggen reads, such as `AbortMessage`, was
                // submitted).
                let expected = crash_signature::signature(reference);
                let actual = state.signature.clone().unwrap_or_else(|| "none".into());
                if expected != actual {
                    outcome.mismatches.push(Mismatch {
                        path: format!("vs {IN_PROCESS}: signature"),
                        expected,
                        actual,
                    });
                    outcome.passed = false;
                }
            }
        }
        outcome
    }
}
