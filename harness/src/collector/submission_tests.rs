//! The collector's charged parse: what parsing keeps goes to the in-flight budget, and a
//! refused charge answers as the budget does. (The parser's own tests, Antenna's rules and
//! every limit, are next to it in crash-generator's `submission::parse`.)

use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use crash_generator::submission::{ENTRY_OVERHEAD, Submission, build};
use http_edge::InFlightBudget;

use super::*;

const MIB: usize = 1 << 20;

/// One annotation and a 2 MiB dump, plain or gzipped: `(content type, encoding, body)`.
fn submission(gzip: bool) -> (String, Option<&'static str>, Vec<u8>) {
    let built = build(
        &Submission {
            annotations: [("ProductName".to_string(), "Firefox".to_string())].into(),
            dumps: vec![("upload_file_minidump".to_string(), vec![7u8; 2 * MIB])],
            gzip,
            ..Submission::default()
        },
        "b0undary",
    );
    (built.content_type, built.content_encoding, built.body)
}

fn limits() -> SubmissionLimits {
    SubmissionLimits {
        max_body: 4 * MIB,
        max_decompressed: 4 * MIB,
        ..SubmissionLimits::default()
    }
}

#[test]
fn what_parsing_keeps_is_charged_to_the_budget_and_given_back() {
    let (ct, ce, plain) = submission(false);
    let budget = InFlightBudget::new(64 * MIB);
    let charge = budget.charge();
    parse_submission_charged(Some(&ct), ce, &plain, &limits(), &charge).unwrap();
    let kept = "ProductName".len() + "Firefox".len() + "upload_file_minidump".len() + 2 * MIB;
    assert_eq!(charge.bytes(), kept + 2 * ENTRY_OVERHEAD);
    // (The budget counts in whole units.)
    assert!(budget.in_use() >= charge.bytes(), "{}", budget.in_use());
    drop(charge);
    assert_eq!(budget.in_use(), 0);
}

#[test]
fn a_refused_charge_answers_as_the_budget_does() {
    // Room for the gunzipped body but not the dump's copy: 413, having charged no more than
    // the budget (the copy was never made).
    let (ct, ce, zipped) = submission(true);
    let small = InFlightBudget::new(5 * MIB);
    let charge = small.charge();
    let err = parse_submission_charged(Some(&ct), ce, &zipped, &limits(), &charge).unwrap_err();
    assert_eq!(
        err,
        ChargedError::Charge(BudgetError::TooLarge { budget: 5 * MIB })
    );
    assert!(charge.bytes() <= 5 * MIB, "{}", charge.bytes());
    let response = CollectorError::from(err).into_response();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    drop(charge);
    assert_eq!(small.in_use(), 0);

    // Room taken by another request: Busy, 503 with Retry-After, and nothing more charged.
    let (ct, ce, plain) = submission(false);
    let other = small.charge();
    other.add(4 * MIB).unwrap();
    let charge = small.charge();
    let err = parse_submission_charged(Some(&ct), ce, &plain, &limits(), &charge).unwrap_err();
    assert_eq!(
        err,
        ChargedError::Charge(BudgetError::Busy { budget: 5 * MIB })
    );
    assert!(charge.bytes() < MIB, "{}", charge.bytes());
    let response = CollectorError::from(err).into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));

    // A malformed submission is still Antenna's answer.
    let err =
        parse_submission_charged(Some("text/plain"), None, &plain, &limits(), &charge).unwrap_err();
    let response = CollectorError::from(err).into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
