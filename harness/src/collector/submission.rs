//! The collector's side of submission parsing. The parser is crash-generator's
//! ([`crash_generator::submission::parse_request`], the one home of Antenna's wire format: its
//! multipart and JSON rules, [`SubmissionLimits`] checked while reading and
//! `Discarded=malformed_<reason>` reasons); what is the collector's is charging what parsing
//! keeps to its in-flight budget ([`parse_submission_charged`]) and mapping the outcome onto
//! [`CollectorError`].

use http_edge::{BudgetError, RequestCharge};

pub use crash_generator::submission::{
    ChargedError, DEFAULT_MAX_BODY, ParsedSubmission, SubmissionError, SubmissionLimits,
    parse_request as parse_submission,
};

use super::CollectorError;

/// [`parse_submission`], charging to `charge` what it keeps before keeping it: the gunzipped
/// body as it grows, and each annotation, `extra` JSON part and dump before it is copied out
/// of the body. (The body itself is the caller's to charge.) Stops with
/// [`ChargedError::Charge`] at the first charge the budget refuses.
pub fn parse_submission_charged(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &SubmissionLimits,
    charge: &RequestCharge,
) -> Result<ParsedSubmission, ChargedError<BudgetError>> {
    crash_generator::submission::parse_request_charged(
        content_type,
        content_encoding,
        body,
        limits,
        |bytes| charge.add(bytes),
    )
}

impl From<SubmissionError> for CollectorError {
    fn from(error: SubmissionError) -> Self {
        CollectorError::Malformed(error)
    }
}

/// A refused charge is the budget's answer (413 or 503 with `Retry-After`), not `malformed`.
impl From<ChargedError<BudgetError>> for CollectorError {
    fn from(error: ChargedError<BudgetError>) -> Self {
        match error {
            ChargedError::Refused(error) => CollectorError::Malformed(error),
            ChargedError::Charge(budget) => CollectorError::Budget(budget),
        }
    }
}

#[cfg(test)]
#[path = "submission_tests.rs"]
mod tests;
