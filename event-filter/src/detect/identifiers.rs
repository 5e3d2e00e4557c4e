//! Identifiers of devices and people that Relay's PII rules know: MAC addresses, UUIDs, IMEIs,
//! US social security numbers, and the user name in a home folder's path.
//!
//! Each is Relay's own regex (relay-pii's `regexes.rs` in sentry-relay 0.10.1), and this is its
//! one home: the detectors of these kinds match with it, and so do a Relay config's `mac`,
//! `uuid`, `imei`, `us_ssn` and `userpath` rules (`relay::rules`), which
//! `tests/relay_vs_peer.rs` holds to Relay. Relay's regex crate is this one, so equal patterns
//! find equal text, Unicode `\d` and `\b` included.
//!
//! Unlike the other built-ins nothing is validated beyond the regex, and the shapes are common
//! in events that hold no personal data (event and trace ids are UUIDs, any 15 digits are an
//! IMEI, `/users/42` in a URL is a user path): `all` leaves these kinds out, and a policy names
//! them one by one.

use std::sync::{Arc, LazyLock};

use regex::Regex;

fn regex(pattern: &str) -> Arc<Regex> {
    Arc::new(Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern}: {e}")))
}

/// Six pairs of hex digits joined by `:` or `-`.
pub(crate) static MAC: LazyLock<Arc<Regex>> =
    LazyLock::new(|| regex(r"\b(?:[[:xdigit:]]{2}[:-]){5}[[:xdigit:]]{2}\b"));

/// 8-4-4-4-12 letters and digits (any, not only hex), the dashes optional, any case.
pub(crate) static UUID: LazyLock<Arc<Regex>> = LazyLock::new(|| {
    regex(r"(?i)\b[a-z0-9]{8}-?[a-z0-9]{4}-?[a-z0-9]{4}-?[a-z0-9]{4}-?[a-z0-9]{12}\b")
});

/// 2-6-6-1 or 2 digits, the dashes optional: 15 to 17 digits.
pub(crate) static IMEI: LazyLock<Arc<Regex>> =
    LazyLock::new(|| regex(r"\b(\d{2}-?\d{6}-?\d{6}-?\d{1,2})\b"));

/// `ddd-dd-dddd`.
pub(crate) static US_SSN: LazyLock<Arc<Regex>> =
    LazyLock::new(|| regex(r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b"));

/// A home folder (`/home/`, `/Users/`, `C:\Users\`, `Documents and Settings\`, `...\Profiles\`)
/// and, as group 1, the path item after it: the user name.
pub(crate) static USER_PATH: LazyLock<Arc<Regex>> = LazyLock::new(|| {
    regex(
        r"(?i)(?:\b(?:[a-zA-Z]:[\\/])?(?:users|home|documents and settings|[^/\\]+[/\\]profiles)[\\/]|/(?:home|users)/)([^/\\\r\n\x00]+)",
    )
});
