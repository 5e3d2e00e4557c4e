//! Relay's rules: the rule types of a PII config, Relay's built-in rules (`@ip`, `@email:hash`,
//! `@common`, ...), and how each finds what it redacts.
//!
//! Every rule type is one or more regexes, each with a way of matching and a part to replace:
//! - value regexes look inside strings (`email`, `ip`, ...; a custom `pattern`);
//! - key regexes look at the key the value sits under (`password`'s `token`);
//! - key-and-value regexes redact the whole value when the key matches, and otherwise the
//!   whole string when the regex is found in it (`password`, `redact_pair`).
//!
//! The regexes are written here to match what Relay's match (Relay uses the same `regex` crate,
//! so equal patterns find equal text); `tests/relay_vs_peer.rs` holds them to Relay on a corpus.
//! Those of `imei`, `mac`, `uuid`, `us_ssn` and `userpath` are the policy detectors' of the
//! same kinds, defined once in `detect`'s `identifiers`.

use std::sync::{Arc, LazyLock};

use regex::Regex;

use crate::detect::{IMEI, MAC, US_SSN, USER_PATH, UUID};

/// What a rule does with what it finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Redaction {
    /// No method given: the found text is dropped; a value found by key is deleted.
    Default,
    Remove,
    Replace(String),
    /// Every character becomes `*` (Relay ignores the old `mask_char` and `range`).
    Mask,
    /// HMAC-SHA1 with an empty key, upper-case hex (Relay ignores `key` and `vars.hashKey`).
    Hash,
    /// An unknown method: found text is dropped, as Relay does, without a marker.
    Other,
}

impl Redaction {
    /// Whether found text is replaced by something (rather than the value deleted).
    pub(super) fn redacts_text(&self) -> bool {
        !matches!(self, Redaction::Default | Redaction::Remove)
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Redaction::Default | Redaction::Remove | Redaction::Other => "remove",
            Redaction::Replace(_) => "mask",
            Redaction::Mask => "mask_keep",
            Redaction::Hash => "hash",
        }
    }
}

/// How a regex is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Match {
    /// Inside string values.
    Value,
    /// On the key; a match redacts the value.
    Key,
    /// On the key, redacting the value; else inside string values, redacting the whole string.
    KeyValue,
}

/// Which part of a match is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Replace {
    /// The whole string value.
    WholeValue,
    /// These capture groups (0 is the whole match).
    Groups(Vec<usize>),
}

#[derive(Debug, Clone)]
pub(super) struct Finder {
    pub how: Match,
    pub regex: Arc<Regex>,
    pub replace: Replace,
}

/// A rule ready to apply.
#[derive(Debug, Clone)]
pub(super) struct CompiledRule {
    /// The name remarks give: the rule's id, or the alias that hides it.
    pub origin: Arc<str>,
    /// `anything`: deletes containers and numbers, and whole strings.
    pub anything: bool,
    pub finders: Vec<Finder>,
    pub redaction: Redaction,
}

fn regex(pattern: &str) -> Arc<Regex> {
    Arc::new(Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern}: {e}")))
}

const IPV4_OCTET: &str = "(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)";

fn ipv4() -> String {
    format!("{IPV4_OCTET}\\.{IPV4_OCTET}\\.{IPV4_OCTET}\\.{IPV4_OCTET}")
}

/// The countries whose IBANs Relay recognises.
const IBAN_COUNTRIES: &str = "AT|AD|AE|AL|AZ|BA|BE|BG|BH|BR|BY|CH|CR|CY|CZ|DE|DK|DO|EE|EG|ES|FI|FO|FR|\
GB|GE|GI|GL|GR|GT|HR|HU|IE|IL|IQ|IS|IT|JO|KW|KZ|LB|LC|LI|LT|LU|LV|LY|MC|MD|ME|MK|MR|MT|MU|NL|NO|PK|\
PL|PS|PT|QA|RO|RU|RS|SA|SC|SE|SI|SK|SM|ST|SV|TL|TN|TR|UA|VA|VG|XK|DZ|AO|BJ|BF|BI|CV|CM|CF|TD|KM|CG|\
CI|DJ|GQ|GA|GW|HN|IR|MG|ML|MA|MZ|NI|NE|SN|TG";

/// Cookie names the `cookies` rule type redacts, and that the legacy settings filter (those of
/// Sentry's own and common frameworks' sessions and CSRF tokens, as Relay 0.10.1 lists them).
pub(super) const SENSITIVE_COOKIES: [&str; 23] = [
    "sentrysid",
    "sudo",
    "su",
    "session",
    "__session",
    "sessionid",
    "user_session",
    "symfony",
    "phpsessid",
    "fasthttpsessionid",
    "mysession",
    "irissessionid",
    "_vercel_jwt",
    "csrf",
    "xsrf",
    "_xsrf",
    "_csrf",
    "csrf-token",
    "csrf_token",
    "xsrf-token",
    "xsrf_token",
    "fastcsrf",
    "_iris_csrf",
];

struct Patterns {
    anything: Arc<Regex>,
    imei: Arc<Regex>,
    mac: Arc<Regex>,
    uuid: Arc<Regex>,
    email: Arc<Regex>,
    iban: Arc<Regex>,
    ipv4: Arc<Regex>,
    ipv6: Arc<Regex>,
    creditcard: Arc<Regex>,
    userpath: Arc<Regex>,
    pemkey: Arc<Regex>,
    urlauth: Arc<Regex>,
    usssn: Arc<Regex>,
    bearer: Arc<Regex>,
    token_key: Arc<Regex>,
    password_key: Arc<Regex>,
    cookies: Arc<Regex>,
    urlauth_legacy: Arc<Regex>,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let v4 = ipv4();
    let h = "[0-9a-fA-F]{1,4}";
    // Relay's IPv6 alternatives, group 1 the address, between whitespace, punctuation or the
    // ends of the string. They are Relay's as they behave, not as IPv6 is written: the
    // compressed forms want one colon more than `::` has (so `2001:db8::1` is found from `db8`
    // on), and the link-local and IPv4-mapped forms run together as one.
    let ipv6 = [
        format!("(?:{h}:){{7}}{h}"),
        format!("(?:{h}:){{1,7}}:"),
        format!("(?:{h}:){{1,6}}::{h}"),
        format!("(?:{h}:){{1,5}}:(?::{h}){{1,2}}"),
        format!("(?:{h}:){{1,4}}:(?::{h}){{1,3}}"),
        format!("(?:{h}:){{1,3}}:(?::{h}){{1,4}}"),
        format!("(?:{h}:){{1,2}}:(?::{h}){{1,5}}"),
        format!("{h}:(?:(?::{h}){{1,6}})"),
        format!(":(?:(?::{h}){{1,7}}|:)"),
        format!("fe80:(?::{h}){{0,4}}%[0-9a-zA-Z]{{1,}}::(?:ffff(?::0{{1,4}}){{0,1}}:){{0,1}}{v4}"),
        format!("(?:{h}:){{1,4}}:{v4}"),
    ]
    .join("|");
    let cookie_names = SENSITIVE_COOKIES
        .iter()
        .map(|n| regex::escape(n))
        .collect::<Vec<_>>()
        .join("|");
    Patterns {
        anything: regex(".*"),
        imei: Arc::clone(&IMEI),
        mac: Arc::clone(&MAC),
        uuid: Arc::clone(&UUID),
        email: regex(
            r"\b[a-zA-Z0-9.!\#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,}\b",
        ),
        iban: regex(&format!(
            r"\b(?:{IBAN_COUNTRIES})\d{{2}}[a-zA-Z0-9]{{11,29}}\b"
        )),
        ipv4: regex(&format!(r"\b{v4}\b")),
        ipv6: regex(&format!(
            r"(?i)(?:\s|[[:punct:]]|^)({ipv6})(?:\s|[[:punct:]]|$)"
        )),
        creditcard: regex(r"\b(?:3[47]\d|4\d{3}|5[1-5]\d\d|65\d\d|6011)(?:[-\s]?\d){12}\b"),
        userpath: Arc::clone(&USER_PATH),
        pemkey: regex(
            r"(?s)-----BEGIN[A-Z ]+(?:PRIVATE|PUBLIC) KEY-----[\t ]*\r?\n?(.+?)\r?\n?-----END[A-Z ]+(?:PRIVATE|PUBLIC) KEY-----",
        ),
        urlauth: regex(r"\b(?:[a-z0-9+-]+:)?//([a-zA-Z0-9%_.-]+(?::[a-zA-Z0-9%_.-]+)?)@"),
        usssn: Arc::clone(&US_SSN),
        bearer: regex(r"(?i)\bBearer\s+[^\s]+"),
        token_key: regex(r"(?i)token"),
        password_key: regex(
            r"(?i)(?:password|secret|passwd|api[-_]key|apikey|auth|credentials|mysql_pwd|privatekey|private[-_]key|token[^\s]*[:=]|^otp$|^two[-_]factor$)",
        ),
        cookies: regex(&format!(r"(?i)(?:^|[\s;])(?:{cookie_names})=([^;]*)")),
        urlauth_legacy: regex(r"\b((?:[a-z0-9]+:)?//[a-zA-Z0-9%_.-]+:)([a-zA-Z0-9%_.-]+)@"),
    }
});

/// `.*`, which a rule that found a value by its key redacts it with.
pub(super) fn anything_regex() -> Arc<Regex> {
    Arc::clone(&PATTERNS.anything)
}

fn finder(how: Match, regex: &Arc<Regex>, replace: Replace) -> Finder {
    Finder {
        how,
        regex: Arc::clone(regex),
        replace,
    }
}

fn value(regex: &Arc<Regex>, group: usize) -> Finder {
    finder(Match::Value, regex, Replace::Groups(vec![group]))
}

/// The finders of a rule type that has no parameters; `None` for an unknown type name.
pub(super) fn finders_of_type(kind: &str) -> Option<(bool, Vec<Finder>)> {
    let p = &*PATTERNS;
    let finders = match kind {
        "anything" => return Some((true, vec![value(&p.anything, 0)])),
        "imei" => vec![value(&p.imei, 0)],
        "mac" => vec![value(&p.mac, 0)],
        "uuid" => vec![value(&p.uuid, 0)],
        "email" => vec![value(&p.email, 0)],
        "iban" => vec![value(&p.iban, 0)],
        "ip" => vec![value(&p.ipv4, 0), value(&p.ipv6, 1)],
        "creditcard" => vec![value(&p.creditcard, 0)],
        "userpath" => vec![value(&p.userpath, 1)],
        "pemkey" => vec![value(&p.pemkey, 1)],
        "url_auth" => vec![value(&p.urlauth, 1)],
        "us_ssn" => vec![value(&p.usssn, 0)],
        "bearer" => vec![value(&p.bearer, 0)],
        "cookies" => vec![value(&p.cookies, 1)],
        "password" => vec![
            value(&p.bearer, 0),
            finder(Match::Key, &p.token_key, Replace::WholeValue),
            finder(Match::KeyValue, &p.password_key, Replace::WholeValue),
        ],
        "unknown" => vec![],
        _ => return None,
    };
    Some((false, finders))
}

/// A built-in rule: its type (or the rules it groups) and redaction, `None` if there is none by
/// that name (Relay then ignores the reference).
pub(super) enum Builtin {
    Single(&'static str, Redaction),
    /// `@urlauth:legacy`: the password part of URL credentials only.
    UrlauthLegacy,
    Group(&'static [&'static str]),
}

pub(super) fn builtin(name: &str) -> Option<Builtin> {
    let (kind, method) = name.split_once(':').unwrap_or((name, ""));
    if kind == "common" {
        return match method {
            "" => Some(Builtin::Group(&[
                "@iban",
                "@ip",
                "@email",
                "@creditcard",
                "@pemkey",
                "@urlauth",
                "@userpath",
                "@bearer",
                "@password",
                "@usssn",
            ])),
            "filter" => Some(Builtin::Group(&[
                "@creditcard:filter",
                "@iban:filter",
                "@pemkey:filter",
                "@urlauth:legacy",
                "@userpath:filter",
                "@bearer:filter",
                "@password:filter",
                "@usssn:filter",
            ])),
            _ => None,
        };
    }
    if name == "urlauth:legacy" {
        return Some(Builtin::UrlauthLegacy);
    }
    if name == "cookies:filter" {
        return Some(Builtin::Single(
            "cookies",
            Redaction::Replace("[Filtered]".into()),
        ));
    }
    // (rule type, what `:replace` writes, what the bare name does, whether `:filter` exists)
    let (rule_type, label, bare, filter) = match kind {
        "anything" => ("anything", "[Filtered]", "replace", true),
        "ip" => ("ip", "[ip]", "replace", false),
        "imei" => ("imei", "[imei]", "replace", false),
        "mac" => ("mac", "[mac]", "mask", false),
        "uuid" => ("uuid", "[uuid]", "mask", false),
        "email" => ("email", "[email]", "replace", false),
        "iban" => ("iban", "[iban]", "replace", true),
        "creditcard" => ("creditcard", "[creditcard]", "replace", true),
        "pemkey" => ("pemkey", "[pemkey]", "replace", true),
        "urlauth" => ("url_auth", "[auth]", "replace", false),
        "usssn" => ("us_ssn", "[us-ssn]", "mask", true),
        "userpath" => ("userpath", "[user]", "replace", false),
        "password" => ("password", "[password]", "remove", true),
        "bearer" => ("bearer", "Bearer [token]", "replace", true),
        _ => return None,
    };
    let method = if method.is_empty() { bare } else { method };
    let redaction = match method {
        "replace" => Redaction::Replace(label.to_string()),
        // Relay's `@imei:mask` hashes.
        "mask" if kind == "imei" => Redaction::Hash,
        "mask" => Redaction::Mask,
        "hash" => Redaction::Hash,
        "remove" => Redaction::Remove,
        "filter" if filter => Redaction::Replace("[Filtered]".into()),
        _ => return None,
    };
    Some(Builtin::Single(rule_type, redaction))
}

/// `@urlauth:legacy`'s finder and redaction.
pub(super) fn urlauth_legacy() -> (Vec<Finder>, Redaction) {
    (
        vec![finder(
            Match::Value,
            &PATTERNS.urlauth_legacy,
            Replace::Groups(vec![2]),
        )],
        Redaction::Replace("[Filtered]".into()),
    )
}

/// How large a custom rule's regex may compile, in bytes: Relay's limit (a config over it is
/// refused, as Relay's validation refuses it).
const PATTERN_SIZE_LIMIT: usize = 262_144;

/// A custom `pattern` rule's finder, replacing the given capture groups (0 is the whole match).
pub(super) fn pattern_finder(
    pattern: &str,
    groups: Option<Vec<usize>>,
) -> Result<Finder, regex::Error> {
    let regex = regex::RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()?;
    Ok(Finder {
        how: Match::Value,
        regex: Arc::new(regex),
        replace: Replace::Groups(groups.unwrap_or_else(|| vec![0])),
    })
}

/// A `redact_pair` rule's finder.
pub(super) fn redact_pair_finder(key_pattern: &str) -> Result<Finder, regex::Error> {
    let regex = regex::RegexBuilder::new(key_pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()?;
    Ok(Finder {
        how: Match::KeyValue,
        regex: Arc::new(regex),
        replace: Replace::WholeValue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One home per pattern: the rules of these types match with the detectors' own regexes.
    #[test]
    fn identifier_rules_use_the_detectors_regexes() {
        let p = &*PATTERNS;
        for (rule, detector) in [
            (&p.imei, &*IMEI),
            (&p.mac, &*MAC),
            (&p.uuid, &*UUID),
            (&p.usssn, &*US_SSN),
            (&p.userpath, &*USER_PATH),
        ] {
            assert!(Arc::ptr_eq(rule, detector), "{}", rule.as_str());
        }
    }
}
