//! Crash report submissions the way Antenna (Mozilla's collector) accepts them: one
//! `multipart/form-data` body with the annotations as `text/plain` fields or one `extra`
//! `application/json` part, the minidumps as `application/octet-stream` parts (the crashing
//! process's named `upload_file_minidump`), optionally gzipped as a whole with
//! `Content-Encoding: gzip`.
//!
//! This module is the one home of the format: [`build`] writes such a body and [`post`] sends
//! it; [`parse_request`] reads one following Antenna's rules (`antenna/breakpad_resource.py`)
//! under [`SubmissionLimits`] checked while reading, so a fake collector (the harness's) can
//! reuse it and reject what Antenna rejects with the same `Discarded=malformed_<reason>`
//! reasons ([`SubmissionError::reason`]). [`parse_request_charged`] lets a server charge what
//! parsing keeps to its memory budget.
//!
//! * `build`: [`Submission`], [`build`], [`boundary_for`], [`post`], [`CollectorResponse`].
//! * `parse`: limits, errors, [`parse`], [`parse_request`], [`parse_request_charged`],
//!   [`sanitize_key_name`]; `multipart` finds the parts, `extra` reads the JSON annotations.
//! * [`submit_batch`] generates and posts many crashes at once (`crash-generator submit`).

mod build;
mod extra;
mod multipart;
mod parse;

pub use crate::submit_batch::{BatchOutcome, Destination, Encoding, SubmitError, submit_batch};
pub use build::{
    AnnotationEncoding, CollectorResponse, EncodedSubmission, Submission, boundary_for, build, post,
};
pub use parse::{
    ChargedError, DEFAULT_MAX_BODY, ENTRY_OVERHEAD, ParsedSubmission, SubmissionError,
    SubmissionLimits, parse, parse_request, parse_request_charged, sanitize_key_name,
};

/// The dump part name Antenna and Socorro treat as the crashing process's minidump.
pub const MINIDUMP_FIELD: &str = "upload_file_minidump";
