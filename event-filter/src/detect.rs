//! Detectors for personal data and secrets inside free-text strings.
//!
//! A data policy says which *values* must never leave a process, whatever key they sit under:
//! e-mail and IP addresses, card numbers, IBANs, credentials in headers and URLs, private keys
//! and cloud tokens. This module finds them. The scrubber uses the hits to redact, the auditor
//! to report findings; both only need byte ranges, so a [`Hit`] is a range and nothing more.
//!
//! Relay's PII rules (`@email`, `@ip`, `@creditcard`, `@iban`, `@pemkey`, `@urlauth`,
//! `@bearer`, ...) are the behavioural reference, with one deliberate difference: Relay mostly
//! uses one regex per rule, while here every candidate is *validated* (octets ≤ 255, IPv6
//! parsed by the standard library, Luhn and card-brand ranges, IBAN mod-97 and country
//! lengths, base64 that decodes to `user:pass`, a JWT header that decodes to JSON with
//! `"alg"`). That keeps version strings, times, order ids, hashes and UUIDs out of the
//! findings, which matters for an audit that has to stay quiet until something really leaks.
//!
//! # Speed
//! The `strict` preset runs every built-in detector over every string of every event, so the
//! built-ins are hand-written scanners rather than regexes, each behind a byte-level
//! prefilter (no `@` means no e-mail, fewer than 13 digits means no card, no `://` means no
//! URL password, ...). [`find_all`] goes one step further: one table-driven pass over the text
//! counts the byte classes every detector needs, and detectors whose necessary bytes are
//! absent are not run at all. Nothing allocates unless something is found.
//!
//! # Hits
//! Hits are byte ranges on char boundaries, sorted and non-overlapping per detector. For
//! credentials the hit is the secret, not its label: the token after `Bearer`, the base64
//! after `Basic`, the password in `scheme://user:password@host`, the value after
//! `aws_secret_access_key =`. Everything else is the whole value.
//!
//! # Rules, in one line each
//! - `email`: `local@domain.tld`; local part `[A-Za-z0-9._%+-]`, no leading, trailing or
//!   double dot, ≤ 64 bytes; at least two DNS labels, alphabetic TLD (or `xn--`) that is not a
//!   file extension (`icon@2x.png`); `user@localhost` is **not** an e-mail address, and an
//!   `@` inside a URL's authority (`https://user@host`) is URL userinfo, not an e-mail.
//! - `ipv4`: dotted quad, octets 0–255 without leading zeros, the whole run of digits and dots
//!   must be the quad (`1.2.3.4.5` is not an address), word-bounded, not right after `version`.
//! - `ipv6`: a run of hex digits, `:` and `.` with at least two colons, accepted only if
//!   [`std::net::Ipv6Addr`] parses it (compressed and IPv4-mapped forms included); `::` alone
//!   and eight two-digit groups (EUI-64 / byte dumps) are rejected; zone ids are not included.
//! - `credit_card`: 13–19 digits, optionally in groups (≥ 3 digits each) separated by single
//!   spaces or dashes, not part of a longer number, Luhn-valid, in a known issuer range with
//!   that range's length (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro,
//!   Mir, RuPay), and not one repeated digit.
//! - `iban`: uppercase country code and check digits, compact or printed in groups of four,
//!   exact length for the countries of the IBAN registry (15–34 for other codes), mod-97 == 1.
//! - `bearer_token`: `Bearer` (any case) + whitespace + ≥ 8 token68 characters; word-like
//!   values (`Bearer authentication`, `Bearer YOUR_TOKEN`) and auth-params are skipped.
//! - `basic_auth`: `Basic` (any case) + whitespace + base64 that decodes to printable
//!   `user:pass`.
//! - `jwt`: `eyJ…` with three (JWS) or five (JWE) base64url segments whose header decodes to a
//!   JSON object containing `"alg"`.
//! - `pem_private_key`: `-----BEGIN <label>PRIVATE KEY-----` (RSA, EC, DSA, OPENSSH,
//!   ENCRYPTED, PGP ... BLOCK) through the matching `-----END ...-----`; a block cut off before
//!   its END line is a hit up to the end of its base64 body.
//! - `aws_access_key`: `AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA` + 16 `[A-Z0-9]`,
//!   word-bounded; and 40 base64 characters labelled `aws_secret_access_key` /
//!   `SecretAccessKey` (`=`, `:` or `=>`, optional quotes).
//! - `gcp_api_key`: `AIza` + exactly 35 `[0-9A-Za-z_-]`.
//! - `github_token`: `ghp_|gho_|ghu_|ghs_|ghr_` + 36 alphanumerics, or `github_pat_` + 22 +
//!   `_` + 59 alphanumerics, word-bounded.
//! - `slack_token`: `xox[abpors]-` + ≥ 10 of `[A-Za-z0-9-]` containing a digit; and Slack
//!   webhook URLs `hooks.slack.com/{services,workflows,triggers}/...` (the whole URL).
//! - `url_password`: the password of `scheme://user:password@host` (the part between the first
//!   `:` of the userinfo and the last `@` of the authority); placeholders such as `****`,
//!   `${PASSWORD}` or `[Filtered]` are skipped.
//! - `custom`: a user regex; the hit is the whole match, or capture group 1 when the pattern
//!   has any capture group (a match whose group 1 did not take part is skipped). Empty
//!   matches are never hits.
//!
//! # Known limitations
//! - ASCII only: internationalised e-mail addresses and full-width digits are not found.
//! - Not handled: lowercase IBANs, per-country BBAN formats, credentials in URLs without a
//!   scheme (`user:pass@host`), GitHub token checksums, Slack `xapp-` tokens, JWTs whose
//!   header JSON does not start with `{"` (base64 `eyJ`).
//! - Still reported although arguably not personal data: SCP-style `git@github.com:org/repo`
//!   (an e-mail), four-part version numbers not introduced by "version" (`1.0.0.0`), hex-only
//!   words around `::` (`face::beef`), and about 1 in 97 uppercase tokens shaped like an IBAN
//!   of a country outside the registry.
//! - Heuristics (file-extension TLDs, "version" before a quad, word-like bearer values,
//!   password placeholders, issuer ranges) trade a little recall for far fewer false findings
//!   in real events.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;
use std::ops::Range;
use std::str::FromStr;

use regex::Regex;

/// What a detector looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// E-mail addresses.
    Email,
    /// IPv4 addresses.
    Ipv4,
    /// IPv6 addresses.
    Ipv6,
    /// Payment card numbers (PANs).
    #[serde(alias = "creditcard")]
    CreditCard,
    /// International bank account numbers.
    Iban,
    /// The token of an `Authorization: Bearer` credential.
    BearerToken,
    /// The base64 `user:pass` of an `Authorization: Basic` credential.
    BasicAuth,
    /// JSON Web Tokens (JWS and JWE compact form).
    Jwt,
    /// PEM-armoured private keys.
    #[serde(alias = "pem")]
    PemPrivateKey,
    /// AWS access key ids and labelled AWS secret access keys.
    AwsAccessKey,
    /// Google Cloud API keys.
    GcpApiKey,
    /// GitHub personal, OAuth, app and refresh tokens.
    GithubToken,
    /// Slack tokens and incoming-webhook URLs.
    SlackToken,
    /// Passwords in URL userinfo.
    UrlPassword,
    /// A user-defined regex.
    Custom,
}

impl DetectorKind {
    /// Every built-in kind, in declaration order (all but [`DetectorKind::Custom`]).
    pub const BUILTIN: [DetectorKind; 14] = [
        DetectorKind::Email,
        DetectorKind::Ipv4,
        DetectorKind::Ipv6,
        DetectorKind::CreditCard,
        DetectorKind::Iban,
        DetectorKind::BearerToken,
        DetectorKind::BasicAuth,
        DetectorKind::Jwt,
        DetectorKind::PemPrivateKey,
        DetectorKind::AwsAccessKey,
        DetectorKind::GcpApiKey,
        DetectorKind::GithubToken,
        DetectorKind::SlackToken,
        DetectorKind::UrlPassword,
    ];

    /// The snake_case name, as used in policies and findings.
    pub fn name(self) -> &'static str {
        match self {
            DetectorKind::Email => "email",
            DetectorKind::Ipv4 => "ipv4",
            DetectorKind::Ipv6 => "ipv6",
            DetectorKind::CreditCard => "credit_card",
            DetectorKind::Iban => "iban",
            DetectorKind::BearerToken => "bearer_token",
            DetectorKind::BasicAuth => "basic_auth",
            DetectorKind::Jwt => "jwt",
            DetectorKind::PemPrivateKey => "pem_private_key",
            DetectorKind::AwsAccessKey => "aws_access_key",
            DetectorKind::GcpApiKey => "gcp_api_key",
            DetectorKind::GithubToken => "github_token",
            DetectorKind::SlackToken => "slack_token",
            DetectorKind::UrlPassword => "url_password",
            DetectorKind::Custom => "custom",
        }
    }
}

impl fmt::Display for DetectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A detector kind name that is not known. `"ip"` is deliberately not accepted: a policy has
/// to say `ipv4` or `ipv6`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown detector kind {input:?} (expected one of email, ipv4, ipv6, credit_card, iban, \
     bearer_token, basic_auth, jwt, pem_private_key, aws_access_key, gcp_api_key, \
     github_token, slack_token, url_password, custom)"
)]
pub struct UnknownDetectorKind {
    /// The name that was given.
    pub input: String,
}

impl FromStr for DetectorKind {
    type Err = UnknownDetectorKind;

    /// Parses the snake_case name; `creditcard` and `pem` are accepted as aliases.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "email" => DetectorKind::Email,
            "ipv4" => DetectorKind::Ipv4,
            "ipv6" => DetectorKind::Ipv6,
            "credit_card" | "creditcard" => DetectorKind::CreditCard,
            "iban" => DetectorKind::Iban,
            "bearer_token" => DetectorKind::BearerToken,
            "basic_auth" => DetectorKind::BasicAuth,
            "jwt" => DetectorKind::Jwt,
            "pem_private_key" | "pem" => DetectorKind::PemPrivateKey,
            "aws_access_key" => DetectorKind::AwsAccessKey,
            "gcp_api_key" => DetectorKind::GcpApiKey,
            "github_token" => DetectorKind::GithubToken,
            "slack_token" => DetectorKind::SlackToken,
            "url_password" => DetectorKind::UrlPassword,
            "custom" => DetectorKind::Custom,
            _ => {
                return Err(UnknownDetectorKind {
                    input: s.to_owned(),
                });
            }
        })
    }
}

/// One finding: a byte range of the scanned text, always on char boundaries and non-empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// First byte of the hit.
    pub start: usize,
    /// One past the last byte of the hit.
    pub end: usize,
}

impl Hit {
    /// The hit as a range, for slicing the scanned text.
    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range is empty (never true for hits returned by this module).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// An invalid custom detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// The custom pattern does not compile (or is too large).
    #[error("invalid pattern for detector {name:?}: {source}")]
    Pattern {
        /// The custom detector's name.
        name: String,
        /// What the regex compiler said.
        #[source]
        source: regex::Error,
    },
}

#[derive(Debug, Clone)]
enum Matcher {
    Builtin,
    Custom { regex: Regex, group: bool },
}

/// A compiled detector: a built-in scanner or a custom regex. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Detector {
    kind: DetectorKind,
    name: Cow<'static, str>,
    matcher: Matcher,
    /// `find_all` runs the detector only if the text's [`Stats`] pass one of these.
    gates: [Gate; 2],
}

/// Compiled size limit for custom patterns, so a policy cannot make us build a huge automaton.
const CUSTOM_SIZE_LIMIT: usize = 1 << 22;

impl Detector {
    /// The built-in detector of `kind`; `None` for [`DetectorKind::Custom`], which needs a
    /// pattern (see [`Detector::custom`]).
    pub fn builtin(kind: DetectorKind) -> Option<Detector> {
        if kind == DetectorKind::Custom {
            return None;
        }
        Some(Detector {
            kind,
            name: Cow::Borrowed(kind.name()),
            matcher: Matcher::Builtin,
            gates: gates(kind),
        })
    }

    /// A custom detector from a regex (Rust `regex` syntax). If the pattern has a capture
    /// group, the hit is group 1 instead of the whole match, so that
    /// `device_id=([0-9a-f]{12})` redacts only the id.
    pub fn custom(name: &str, pattern: &str) -> Result<Detector, DetectorError> {
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(CUSTOM_SIZE_LIMIT)
            .dfa_size_limit(CUSTOM_SIZE_LIMIT)
            .build()
            .map_err(|source| DetectorError::Pattern {
                name: name.to_owned(),
                source,
            })?;
        let group = regex.captures_len() > 1;
        Ok(Detector {
            kind: DetectorKind::Custom,
            name: Cow::Owned(name.to_owned()),
            matcher: Matcher::Custom { regex, group },
            gates: [Gate::ALWAYS, Gate::ALWAYS],
        })
    }

    /// What this detector looks for.
    pub fn kind(&self) -> DetectorKind {
        self.kind
    }

    /// The kind's name for built-ins, the given name for custom detectors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// All hits in `text`: non-overlapping, left to right.
    pub fn find(&self, text: &str) -> Vec<Hit> {
        let mut hits = Vec::new();
        self.scan(text, &mut hits, false);
        hits
    }

    /// Whether `text` contains at least one hit; stops at the first one.
    pub fn is_match(&self, text: &str) -> bool {
        let mut hits = Vec::new();
        self.scan(text, &mut hits, true);
        !hits.is_empty()
    }

    /// Whether the bytes counted in `stats` allow a hit at all (a necessary condition).
    #[inline]
    fn may_match(&self, stats: &Stats) -> bool {
        self.gates[0].admits(stats) || self.gates[1].admits(stats)
    }

    /// Appends this detector's hits to `hits` (which must be empty), sorted and
    /// non-overlapping; with `first_only` it may stop after the first hit.
    fn scan(&self, text: &str, hits: &mut Vec<Hit>, first_only: bool) {
        let mut sink = Sink { hits, first_only };
        match &self.matcher {
            Matcher::Custom { regex, group } => scan_custom(regex, *group, text, &mut sink),
            Matcher::Builtin => match self.kind {
                DetectorKind::Email => scan_email(text, &mut sink),
                DetectorKind::Ipv4 => scan_ipv4(text, &mut sink),
                DetectorKind::Ipv6 => scan_ipv6(text, &mut sink),
                DetectorKind::CreditCard => scan_card(text, &mut sink),
                DetectorKind::Iban => scan_iban(text, &mut sink),
                DetectorKind::BearerToken => scan_bearer(text, &mut sink),
                DetectorKind::BasicAuth => scan_basic(text, &mut sink),
                DetectorKind::Jwt => scan_jwt(text, &mut sink),
                DetectorKind::PemPrivateKey => scan_pem(text, &mut sink),
                DetectorKind::AwsAccessKey => scan_aws(text, &mut sink),
                DetectorKind::GcpApiKey => scan_gcp(text, &mut sink),
                DetectorKind::GithubToken => scan_github(text, &mut sink),
                DetectorKind::SlackToken => scan_slack(text, &mut sink),
                DetectorKind::UrlPassword => scan_url_password(text, &mut sink),
                DetectorKind::Custom => {}
            },
        }
        normalize(text, hits);
    }
}

/// All built-in detectors, in [`DetectorKind::BUILTIN`] order.
pub fn builtin_detectors() -> Vec<Detector> {
    DetectorKind::BUILTIN
        .iter()
        .filter_map(|&kind| Detector::builtin(kind))
        .collect()
}

/// Runs several detectors over one text and merges their hits: `(detector index, hit)`
/// sorted by start (ties by detector index, then end). Overlapping hits from different
/// detectors are all reported; per detector they never overlap.
pub fn find_all(detectors: &[Detector], text: &str) -> Vec<(usize, Hit)> {
    let mut out = Vec::new();
    if text.is_empty() || detectors.is_empty() {
        return out;
    }
    let stats = if detectors
        .iter()
        .any(|d| matches!(d.matcher, Matcher::Builtin))
    {
        Stats::of(text.as_bytes())
    } else {
        Stats::ALL
    };
    let mut hits = Vec::new();
    for (index, detector) in detectors.iter().enumerate() {
        if !detector.may_match(&stats) {
            continue;
        }
        hits.clear();
        detector.scan(text, &mut hits, false);
        out.extend(hits.iter().map(|&hit| (index, hit)));
    }
    if out.len() > 1 {
        out.sort_by_key(|&(index, hit)| (hit.start, index, hit.end));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Plumbing

/// Where scanners put their hits.
struct Sink<'a> {
    hits: &'a mut Vec<Hit>,
    first_only: bool,
}

impl Sink<'_> {
    /// Records a hit; returns whether scanning should go on.
    fn push(&mut self, start: usize, end: usize) -> bool {
        if start < end {
            self.hits.push(Hit { start, end });
        }
        !self.first_only || self.hits.is_empty()
    }
}

/// Sorts hits and drops any that are empty, off char boundaries or overlap an earlier one.
/// Scanners already produce clean output; this is the guarantee, not the mechanism.
fn normalize(text: &str, hits: &mut Vec<Hit>) {
    if hits.is_empty() {
        return;
    }
    hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
    let mut last_end = 0;
    hits.retain(|h| {
        let keep = h.start < h.end
            && h.start >= last_end
            && h.end <= text.len()
            && text.is_char_boundary(h.start)
            && text.is_char_boundary(h.end);
        if keep {
            last_end = h.end;
        }
        keep
    });
}

/// Byte at `i`, or 0 (a byte no rule treats as part of anything) past the end.
#[inline]
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// Byte before `i`, or 0 at the start.
#[inline]
fn before(b: &[u8], i: usize) -> u8 {
    match i.checked_sub(1) {
        Some(j) => at(b, j),
        None => 0,
    }
}

#[inline]
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Position of the ASCII byte `needle` in `text` at or after `from`.
#[inline]
fn find_char(text: &str, from: usize, needle: char) -> Option<usize> {
    // `str::find(char)` is the standard library's word-at-a-time memchr.
    let from = text.ceil_char_boundary(from);
    text.get(from..)?.find(needle).map(|p| p + from)
}

/// Position of `needle` in `text` at or after `from`.
#[inline]
fn find_str(text: &str, from: usize, needle: &str) -> Option<usize> {
    find_lit(text.as_bytes(), from, needle.as_bytes())
}

/// Substring search: compares the needle's first and last bytes over 64-byte blocks
/// without branching (vectorised by the compiler), then verifies candidates.
fn find_lit(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let (&first, &last_byte) = (needle.first()?, needle.last()?);
    let n = needle.len();
    let last = b.len().checked_sub(n)?;
    // Matches are often close (the next '.' or ':'): look at a few positions one by one
    // before paying for a block.
    let matches_at = |j: usize| {
        at(b, j) == first && at(b, j + n - 1) == last_byte && b.get(j..j + n) == Some(needle)
    };
    let near = (from + 16).min(last + 1);
    if let Some(j) = (from..near).find(|&j| matches_at(j)) {
        return Some(j);
    }
    let mut i = near;
    while i <= last {
        let end = (i + 64).min(last + 1);
        let (Some(x), Some(y)) = (b.get(i..end), b.get(i + n - 1..end + n - 1)) else {
            return None;
        };
        let any = x.iter().zip(y).fold(false, |acc, (&p, &q)| {
            acc | ((p == first) & (q == last_byte))
        });
        if any && let Some(j) = (i..end).find(|&j| matches_at(j)) {
            return Some(j);
        }
        i = end;
    }
    None
}

/// ASCII case-insensitive search for `needle` (lowercase letters, length ≥ 2). Checks the
/// first two bytes over 64-byte blocks without branching, which the compiler vectorises.
fn find_ci(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let (&n0, &n1) = (needle.first()?, needle.get(1)?);
    let last = b.len().checked_sub(needle.len())?;
    let mut i = from;
    while i <= last {
        let end = (i + 64).min(last + 1);
        let (Some(x), Some(y)) = (b.get(i..end), b.get(i + 1..end + 1)) else {
            return None;
        };
        let any = x.iter().zip(y).fold(false, |acc, (&p, &q)| {
            acc | (((p | 0x20) == n0) & ((q | 0x20) == n1))
        });
        if any {
            for j in i..end {
                if b.get(j..j + needle.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(needle))
                {
                    return Some(j);
                }
            }
        }
        i = end;
    }
    None
}

/// First `i >= from` where `pred(b[i], b[i+1], b[i+2], b[i+3])` holds; the predicate must be
/// branch-free so the 64-byte block check vectorises.
#[inline]
fn find_window4(b: &[u8], from: usize, pred: impl Fn(u8, u8, u8, u8) -> bool) -> Option<usize> {
    let last = b.len().checked_sub(4)?;
    let mut i = from;
    while i <= last {
        let end = (i + 64).min(last + 1);
        let (Some(w0), Some(w1), Some(w2), Some(w3)) = (
            b.get(i..end),
            b.get(i + 1..end + 1),
            b.get(i + 2..end + 2),
            b.get(i + 3..end + 3),
        ) else {
            return None;
        };
        let any = w0
            .iter()
            .zip(w1)
            .zip(w2)
            .zip(w3)
            .fold(false, |acc, (((&p, &q), &r), &s)| acc | pred(p, q, r, s));
        if any {
            for j in i..end {
                if pred(at(b, j), at(b, j + 1), at(b, j + 2), at(b, j + 3)) {
                    return Some(j);
                }
            }
        }
        i = end;
    }
    None
}

/// Whether `b` holds at least `n` ASCII digits (n < 255), counted in vectorisable blocks.
fn has_digits(b: &[u8], n: u32) -> bool {
    let mut total = 0u32;
    for chunk in b.chunks(255) {
        total += u32::from(
            chunk
                .iter()
                .fold(0u8, |acc, &c| acc + u8::from(c.is_ascii_digit())),
        );
        if total >= n {
            return true;
        }
    }
    false
}

/// Decodes base64 (standard or URL-safe alphabet), with or without padding.
fn b64_decode(input: &[u8], url: bool) -> Option<Vec<u8>> {
    let mut data = input;
    let mut pad = 0;
    while let [rest @ .., b'='] = data {
        data = rest;
        pad += 1;
    }
    if pad > 2 || (pad > 0 && !(data.len() + pad).is_multiple_of(4)) || data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in data {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' if !url => 62,
            b'/' if !url => 63,
            b'-' if url => 62,
            b'_' if url => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// One-pass byte statistics for `find_all`

/// What [`find_all`] knows about a text after one pass: how many bytes of eight classes it
/// has (saturating at 255, more than any gate asks) and which of 32 others occur.
#[derive(Debug, Clone, Copy)]
struct Stats {
    /// Eight 8-bit counters, lane `k` at bits `8k..8k+8`, in `L_*` order.
    counts: u64,
    /// Presence bits: `a`–`z` case-folded (see [`letters`]), then the `P_*` bits.
    present: u64,
}

const L_DIGIT: usize = 0;
const L_DOT: usize = 1;
const L_COLON: usize = 2;
const L_DASH: usize = 3;
const L_UPPER: usize = 4;
const L_AT: usize = 5;
const L_UNDERSCORE: usize = 6;
const L_SPACE: usize = 7;

const P_CAP_A: u64 = 1 << 26;
const P_CAP_I: u64 = 1 << 27;
const P_CAP_J: u64 = 1 << 28;
const P_LOWER_Z: u64 = 1 << 29;
const P_SLASH: u64 = 1 << 30;

/// Presence bits of the ASCII letters of `word`, case-folded.
const fn letters(word: &[u8]) -> u64 {
    let mut bits = 0;
    let mut i = 0;
    while i < word.len() {
        bits |= 1 << ((word[i] | 0x20) - b'a');
        i += 1;
    }
    bits
}

/// Per byte: a 1 in the 8-bit counter lane of its class. Summing these over at most 255
/// bytes adds all eight lanes at once without carries between them.
static COUNT_TABLE: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let classes = [
            c.is_ascii_digit(),
            c == b'.',
            c == b':',
            c == b'-',
            c.is_ascii_uppercase(),
            c == b'@',
            c == b'_',
            c == b' ' || c == b'\t',
        ];
        let mut v = 0u64;
        let mut k = 0;
        while k < classes.len() {
            if classes[k] {
                v |= 1 << (8 * k);
            }
            k += 1;
        }
        t[i] = v;
        i += 1;
    }
    t
};

/// Per byte: its presence bits.
static PRESENCE_TABLE: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut v = 0u64;
        if c.is_ascii_alphabetic() {
            v |= 1 << ((c | 0x20) - b'a');
        }
        match c {
            b'A' => v |= P_CAP_A,
            b'I' => v |= P_CAP_I,
            b'J' => v |= P_CAP_J,
            b'z' => v |= P_LOWER_Z,
            b'/' => v |= P_SLASH,
            _ => {}
        }
        t[i] = v;
        i += 1;
    }
    t
};

/// The `0x80` bit of every lane.
const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Lane-wise saturating add of eight 8-bit counters.
#[inline]
fn add_saturating_lanes(a: u64, b: u64) -> u64 {
    let low = !HIGH_BITS;
    let sum = ((a & low) + (b & low)) ^ ((a ^ b) & HIGH_BITS);
    let carry = ((a & b) | ((a | b) & !sum)) & HIGH_BITS;
    sum | ((carry >> 7) * 0xff)
}

/// A necessary condition for a detector to match: at least `min[k]` bytes of class `k`
/// (each below 128) and every `present` bit.
#[derive(Debug, Clone, Copy)]
struct Gate {
    min: u64,
    present: u64,
}

impl Gate {
    const ALWAYS: Gate = Gate { min: 0, present: 0 };
    /// Asks for presence bits no byte sets.
    const NEVER: Gate = Gate {
        min: 0,
        present: u64::MAX,
    };

    /// `min` per lane in `L_*` order.
    const fn new(min: [u8; 8], present: u64) -> Gate {
        Gate {
            min: u64::from_le_bytes(min),
            present,
        }
    }

    /// Branch-free: a lane passes if its count's low seven bits reach the minimum (no
    /// borrow into the lane's high bit) or the count is 128 or more.
    #[inline]
    fn admits(self, s: &Stats) -> bool {
        let ok = (((s.counts | HIGH_BITS) - self.min) | s.counts) & HIGH_BITS;
        ok == HIGH_BITS && s.present & self.present == self.present
    }
}

/// Per-lane minimums from `(lane, count)` pairs.
const fn at_least(pairs: &[(usize, u8)]) -> [u8; 8] {
    let mut min = [0u8; 8];
    let mut i = 0;
    while i < pairs.len() {
        min[pairs[i].0] = pairs[i].1;
        i += 1;
    }
    min
}

/// The gates of a built-in kind: bytes that every one of its hits needs.
fn gates(kind: DetectorKind) -> [Gate; 2] {
    let one = |min: &[(usize, u8)], present: u64| [Gate::new(at_least(min), present), Gate::NEVER];
    match kind {
        DetectorKind::Email => one(&[(L_AT, 1), (L_DOT, 1)], 0),
        DetectorKind::Ipv4 => one(&[(L_DIGIT, 4), (L_DOT, 3)], 0),
        DetectorKind::Ipv6 => one(&[(L_COLON, 2)], 0),
        DetectorKind::CreditCard => one(&[(L_DIGIT, 13)], 0),
        DetectorKind::Iban => one(&[(L_DIGIT, 2), (L_UPPER, 2)], 0),
        DetectorKind::BearerToken => one(&[(L_SPACE, 1)], letters(b"bearer")),
        DetectorKind::BasicAuth => one(&[(L_SPACE, 1)], letters(b"basic")),
        DetectorKind::Jwt => one(&[(L_DOT, 2), (L_UPPER, 1)], P_CAP_J | letters(b"ey")),
        // "-----BEGIN " + "PRIVATE KEY-----": ten dashes, two spaces, fifteen capitals.
        DetectorKind::PemPrivateKey => one(
            &[(L_DASH, 10), (L_SPACE, 2), (L_UPPER, 15)],
            letters(b"beginprivatekey"),
        ),
        DetectorKind::AwsAccessKey => [
            Gate::new(at_least(&[(L_UPPER, 4)]), P_CAP_A),
            Gate::new(at_least(&[]), letters(b"secretaccesskey")),
        ],
        DetectorKind::GcpApiKey => one(&[(L_UPPER, 2)], P_CAP_A | P_CAP_I | P_LOWER_Z),
        DetectorKind::GithubToken => one(&[(L_UNDERSCORE, 1)], letters(b"gh")),
        DetectorKind::SlackToken => [
            Gate::new(at_least(&[(L_DIGIT, 1), (L_DASH, 1)]), letters(b"xo")),
            Gate::new(at_least(&[(L_DOT, 2)]), P_SLASH | letters(b"hooksslack")),
        ],
        DetectorKind::UrlPassword => one(&[(L_AT, 1), (L_COLON, 1)], P_SLASH),
        DetectorKind::Custom => [Gate::ALWAYS, Gate::ALWAYS],
    }
}

impl Stats {
    /// Stats that let every detector run.
    const ALL: Stats = Stats {
        counts: u64::MAX,
        present: u64::MAX,
    };

    fn of(b: &[u8]) -> Stats {
        let mut counts = 0u64;
        let (mut p0, mut p1) = (0u64, 0u64);
        for chunk in b.chunks(255) {
            // Two accumulators each halve the dependency chains; together the counters
            // see at most 255 bytes, so adding them cannot carry across lanes.
            let (mut c0, mut c1) = (0u64, 0u64);
            let mut pairs = chunk.chunks_exact(2);
            for pair in &mut pairs {
                let (x, y) = (usize::from(pair[0]), usize::from(pair[1]));
                c0 = c0.wrapping_add(COUNT_TABLE[x]);
                c1 = c1.wrapping_add(COUNT_TABLE[y]);
                p0 |= PRESENCE_TABLE[x];
                p1 |= PRESENCE_TABLE[y];
            }
            for &c in pairs.remainder() {
                c0 = c0.wrapping_add(COUNT_TABLE[usize::from(c)]);
                p0 |= PRESENCE_TABLE[usize::from(c)];
            }
            counts = add_saturating_lanes(counts, c0.wrapping_add(c1));
        }
        Stats {
            counts,
            present: p0 | p1,
        }
    }

    /// Count of a class, at most 255.
    #[cfg(test)]
    fn n(&self, lane: usize) -> u32 {
        ((self.counts >> (8 * (lane % 8))) & 0xff) as u32
    }
}

// ---------------------------------------------------------------------------------------
// E-mail

#[inline]
fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

#[inline]
fn is_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-'
}

/// TLD-shaped file extensions: `icon@2x.png` is an asset, not an address.
const FILE_EXTENSIONS: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"bmp", b"ico", b"js", b"mjs", b"cjs",
    b"css", b"map", b"json", b"html", b"htm", b"txt", b"log", b"tmp", b"bak", b"lock",
];

fn valid_domain(d: &[u8]) -> bool {
    if d.len() > 253 {
        return false;
    }
    let mut labels = 0;
    let mut tld: &[u8] = &[];
    for label in d.split(|&c| c == b'.') {
        if label.is_empty()
            || label.len() > 63
            || label.first() == Some(&b'-')
            || label.last() == Some(&b'-')
        {
            return false;
        }
        labels += 1;
        tld = label;
    }
    let tld_ok = (tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
        || (tld.len() > 4 && tld[..4].eq_ignore_ascii_case(b"xn--"));
    labels >= 2
        && tld_ok
        && !FILE_EXTENSIONS
            .iter()
            .any(|ext| ext.eq_ignore_ascii_case(tld))
}

/// Whether the `@` at `at_pos` belongs to the authority of a `scheme://` URL (looking back
/// at most 256 bytes, which keeps the e-mail scan linear).
fn in_url_authority(b: &[u8], at_pos: usize) -> bool {
    let mut k = at_pos;
    let limit = at_pos.saturating_sub(256);
    while k > limit {
        let c = b[k - 1];
        if c <= b' ' || matches!(c, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`') {
            break;
        }
        k -= 1;
    }
    k >= 3 && &b[k - 3..k] == b"://"
}

fn scan_email(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    let mut from = 0;
    let mut floor = 0;
    while let Some(at_pos) = find_char(text, from, '@') {
        from = at_pos + 1;
        let mut s = at_pos;
        while s > floor && is_local(b[s - 1]) {
            s -= 1;
        }
        // Skip leading dots, and anything up to a ".." (sentence punctuation, "...").
        if let Some(p) = b[s..at_pos].windows(2).rposition(|w| w == b"..") {
            s += p + 2;
        }
        while s < at_pos && b[s] == b'.' {
            s += 1;
        }
        let local = &b[s..at_pos];
        if local.is_empty() || local.len() > 64 || local.last() == Some(&b'.') {
            continue;
        }
        let mut e = at_pos + 1;
        while e < b.len() && is_domain(b[e]) {
            e += 1;
        }
        while e > at_pos + 1 && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        if !valid_domain(&b[at_pos + 1..e]) || in_url_authority(b, at_pos) {
            continue;
        }
        if !sink.push(s, e) {
            return;
        }
        floor = e;
        from = e;
    }
}

// ---------------------------------------------------------------------------------------
// IPv4

fn parse_ipv4(r: &[u8]) -> bool {
    let mut parts = 0;
    for part in r.split(|&c| c == b'.') {
        parts += 1;
        if parts > 4 || part.is_empty() || part.len() > 3 || (part.len() > 1 && part[0] == b'0') {
            return false;
        }
        let v = part
            .iter()
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c.wrapping_sub(b'0')));
        if v > 255 || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
    }
    parts == 4
}

/// Whether the text right before `s` is "version" plus up to two separators
/// (`Version=4.0.0.0` in .NET assembly names, `version 1.2.3.4`).
fn preceded_by_version(b: &[u8], s: usize) -> bool {
    let mut k = s;
    for _ in 0..2 {
        if k > 0 && matches!(b[k - 1], b' ' | b'=' | b':' | b'/' | b'"' | b'\'') {
            k -= 1;
        }
    }
    k >= 7 && b[k - 7..k].eq_ignore_ascii_case(b"version")
}

fn scan_ipv4(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    if !has_digits(b, 4) {
        return;
    }
    let is_dd = |c: u8| c.is_ascii_digit() || c == b'.';
    let mut from = 0;
    while let Some(d) = find_char(text, from, '.') {
        from = d + 1;
        if !(before(b, d).is_ascii_digit() && at(b, d + 1).is_ascii_digit()) {
            continue;
        }
        let mut s = d;
        while s > 0 && is_dd(b[s - 1]) {
            s -= 1;
        }
        let mut e = d + 1;
        while e < b.len() && is_dd(b[e]) {
            e += 1;
        }
        from = e;
        if is_word(before(b, s)) || is_word(at(b, e)) || b[s] == b'.' {
            continue;
        }
        while e > s && b[e - 1] == b'.' {
            e -= 1;
        }
        if parse_ipv4(&b[s..e]) && !preceded_by_version(b, s) && !sink.push(s, e) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// IPv6

fn valid_ipv6(cand: &str) -> bool {
    let b = cand.as_bytes();
    if !b.iter().any(u8::is_ascii_hexdigit) || cand.parse::<Ipv6Addr>().is_err() {
        return false;
    }
    // Eight two-digit groups without "::" are byte dumps (EUI-64, fingerprints).
    let byte_dump = !cand.contains("::") && cand.split(':').all(|g| g.len() == 2);
    !byte_dump
}

fn scan_ipv6(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    let is_v6 = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
    let mut from = 0;
    while let Some(c) = find_char(text, from, ':') {
        from = c + 1;
        let (l, r) = (before(b, c), at(b, c + 1));
        if !(l.is_ascii_hexdigit() || l == b':' || r.is_ascii_hexdigit() || r == b':') {
            continue;
        }
        let mut s = c;
        while s > 0 && is_v6(b[s - 1]) {
            s -= 1;
        }
        let mut e = c + 1;
        while e < b.len() && is_v6(b[e]) {
            e += 1;
        }
        from = e;
        if is_word(at(b, e)) {
            continue;
        }
        if is_word(before(b, s)) {
            // "ip:2001:db8::1": a key, a colon, then the address.
            if b[s] == b':' && at(b, s + 1) != b':' {
                s += 1;
            } else {
                continue;
            }
        }
        if b[s..e].iter().filter(|&&x| x == b':').count() < 2 {
            continue;
        }
        // Trailing sentence punctuation: "::1." or "fe80::1:".
        for _ in 0..3 {
            if e <= s {
                break;
            }
            if text.get(s..e).is_some_and(valid_ipv6) {
                if !sink.push(s, e) {
                    return;
                }
                break;
            }
            if matches!(b[e - 1], b'.' | b':') {
                e -= 1;
            } else {
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Payment cards

fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &c) in d.iter().rev().enumerate() {
        let mut v = u32::from(c.wrapping_sub(b'0'));
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Whether the digits are in a known issuer (IIN) range with a length that issuer uses.
fn card_brand_ok(d: &[u8]) -> bool {
    let prefix = |k: usize| {
        d.iter()
            .take(k)
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c.wrapping_sub(b'0')))
    };
    let len = d.len();
    let p2 = prefix(2);
    let p4 = prefix(4);
    match prefix(1) {
        // Visa.
        4 => matches!(len, 13 | 16 | 19),
        3 => match p2 {
            // Amex.
            34 | 37 => len == 15,
            // Diners Club.
            30 | 36 | 38 | 39 => (14..=19).contains(&len),
            // JCB.
            35 => (16..=19).contains(&len),
            _ => false,
        },
        5 => match p2 {
            // Mastercard.
            51..=55 => len == 16,
            // Maestro.
            50 | 56..=59 => (13..=19).contains(&len),
            _ => false,
        },
        // Mastercard 2-series, Mir.
        2 => {
            ((2221..=2720).contains(&p4) && len == 16)
                || ((2200..=2204).contains(&p4) && (16..=19).contains(&len))
        }
        // Discover, UnionPay, Maestro, RuPay.
        6 => (13..=19).contains(&len),
        // RuPay.
        8 => matches!(p2, 81 | 82) && len == 16,
        _ => false,
    }
}

fn valid_card(b: &[u8], groups: &[(usize, usize)]) -> bool {
    let mut digits = [0u8; 19];
    let mut n = 0;
    for &(s, e) in groups {
        for &c in &b[s..e] {
            if n == digits.len() {
                return false;
            }
            digits[n] = c;
            n += 1;
        }
    }
    let d = &digits[..n];
    (13..=19).contains(&n) && d.iter().any(|&c| c != d[0]) && card_brand_ok(d) && luhn(d)
}

/// Digit groups held at once; a longer chain is processed in overlapping windows.
const MAX_CARD_GROUPS: usize = 16;
/// Most groups one card can span: 19 digits in groups of at least three.
const CARD_SPAN: usize = 6;

/// Length of the run of digits ending at `end` (exclusive).
fn digits_before(b: &[u8], end: usize) -> usize {
    b.get(..end).map_or(0, |r| {
        r.iter().rev().take_while(|c| c.is_ascii_digit()).count()
    })
}

/// Length of the run of digits starting at `start`.
fn digits_after(b: &[u8], start: usize) -> usize {
    b.get(start..)
        .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
}

/// First ASCII digit at or after `from`, checking 64-byte blocks branch-free first.
fn next_digit(b: &[u8], from: usize) -> Option<usize> {
    let near = (from + 16).min(b.len());
    if let Some(p) = b.get(from..near)?.iter().position(u8::is_ascii_digit) {
        return Some(from + p);
    }
    let mut i = near;
    while i < b.len() {
        let end = (i + 64).min(b.len());
        let chunk = b.get(i..end)?;
        if chunk.iter().fold(false, |acc, c| acc | c.is_ascii_digit()) {
            return chunk.iter().position(u8::is_ascii_digit).map(|p| p + i);
        }
        i = end;
    }
    None
}

/// Whether `b` has 13 digits in one run, or in one chain of groups of three or more joined
/// by single spaces or dashes: a cheap necessary condition for a card number.
fn has_card_length_run(b: &[u8]) -> bool {
    let (mut chain, mut group) = (0u32, 0u32);
    let mut after_digit = false;
    for &c in b {
        if c.is_ascii_digit() {
            group += 1;
            if chain + group >= 13 {
                return true;
            }
            after_digit = true;
        } else {
            // A single separator after a group of three or more continues the chain.
            chain = if (c == b' ' || c == b'-') && after_digit && group >= 3 {
                chain + group
            } else {
                0
            };
            group = 0;
            after_digit = false;
        }
    }
    false
}

fn scan_card(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    if !has_digits(b, 13) || !has_card_length_run(b) {
        return;
    }
    let n = b.len();
    let mut groups = [(0usize, 0usize); MAX_CARD_GROUPS];
    let mut floor = 0;
    let mut i = 0;
    while let Some(start) = next_digit(b, i) {
        let mut q = start;
        while q < n && b[q].is_ascii_digit() {
            q += 1;
        }
        if q - start < 3 {
            i = q;
            continue;
        }
        // A chain of groups of at least three digits joined by single spaces or dashes.
        groups[0] = (start, q);
        let mut g = 1;
        while g < MAX_CARD_GROUPS
            && q + 1 < n
            && matches!(b[q], b' ' | b'-')
            && b[q + 1].is_ascii_digit()
        {
            let gs = q + 1;
            let mut e = gs;
            while e < n && b[e].is_ascii_digit() {
                e += 1;
            }
            if e - gs < 3 {
                break;
            }
            groups[g] = (gs, e);
            g += 1;
            q = e;
        }
        let full = g == MAX_CARD_GROUPS;
        // Not part of a longer number: no word byte or '+' (phone numbers) next to it, and
        // no decimal or thousands part ("4111111111111111.50"); a ',' or '.' next to another
        // card-length number is a list separator, though.
        let pre = before(b, start);
        let left_ok = !(is_word(pre)
            || pre == b'+'
            || (matches!(pre, b'.' | b',') && (1..13).contains(&digits_before(b, start - 1))));
        let post = at(b, q);
        let right_ok = full
            || !(is_word(post)
                || (matches!(post, b'.' | b',') && (1..13).contains(&digits_after(b, q + 1))));
        // In a full window, starts in the last CARD_SPAN groups wait for the next window.
        let starts = if full { g - CARD_SPAN } else { g };
        let mut gi = 0;
        while gi < starts {
            let mut best = None;
            if groups[gi].0 >= floor && (gi > 0 || left_ok) {
                let mut count = 0;
                for gj in gi..g {
                    let (s, e) = groups[gj];
                    count += e - s;
                    if count > 19 || (gj == g - 1 && !right_ok) {
                        break;
                    }
                    if count >= 13 && valid_card(b, &groups[gi..=gj]) {
                        best = Some(gj);
                    }
                }
            }
            match best {
                Some(gj) => {
                    if !sink.push(groups[gi].0, groups[gj].1) {
                        return;
                    }
                    floor = groups[gj].1;
                    gi = gj + 1;
                }
                None => gi += 1,
            }
        }
        i = if full { groups[starts].0 } else { q };
    }
}

// ---------------------------------------------------------------------------------------
// IBAN

/// IBAN length per country (SWIFT IBAN registry).
fn iban_length(cc: [u8; 2]) -> Option<usize> {
    Some(match &cc {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FK" | b"FO" | b"GL" | b"NL" | b"SD" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"MN" | b"XK" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"IQ" | b"OM" | b"SO" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"LY" | b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"BI" | b"DJ" | b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"NI" | b"PL" | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" | b"YE" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        b"RU" => 33,
        _ => return None,
    })
}

fn iban_mod97(chars: &[u8]) -> bool {
    let (head, bban) = chars.split_at(4.min(chars.len()));
    let mut rem = 0u32;
    for &c in bban.iter().chain(head) {
        rem = if c.is_ascii_digit() {
            (rem * 10 + u32::from(c - b'0')) % 97
        } else if c.is_ascii_uppercase() {
            (rem * 100 + u32::from(c - b'A') + 10) % 97
        } else {
            return false;
        };
    }
    rem == 1
}

#[inline]
fn is_iban_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

/// Parses an IBAN starting at `p` (country code and check digits already seen); returns its
/// end.
fn parse_iban(b: &[u8], p: usize) -> Option<usize> {
    let check = [at(b, p + 2), at(b, p + 3)];
    if matches!(&check, b"00" | b"01" | b"99") {
        return None;
    }
    let expected = iban_length([at(b, p), at(b, p + 1)]);
    let mut chars = [0u8; 34];
    chars[..4].copy_from_slice(b.get(p..p + 4)?);
    let mut len = 4;
    // (length so far, byte end) after each group.
    let mut ends = [(0usize, 0usize); 9];
    let mut n_ends = 0;
    let mut pos = p + 4;
    if at(b, pos) == b' ' {
        // Printed form: groups of four separated by single spaces, the last one shorter.
        while at(b, pos) == b' ' && n_ends < ends.len() {
            let gs = pos + 1;
            let mut q = gs;
            while q < b.len() && q - gs < 4 && is_iban_char(b[q]) {
                q += 1;
            }
            let g = q - gs;
            if g == 0 || is_word(at(b, q)) || len + g > 34 {
                break;
            }
            chars[len..len + g].copy_from_slice(&b[gs..q]);
            len += g;
            pos = q;
            ends[n_ends] = (len, pos);
            n_ends += 1;
            if g < 4 {
                break;
            }
        }
    } else {
        let mut q = pos;
        while q < b.len() && is_iban_char(b[q]) {
            q += 1;
        }
        let g = q - pos;
        if g == 0 || is_word(at(b, q)) || len + g > 34 {
            return None;
        }
        chars[len..len + g].copy_from_slice(&b[pos..q]);
        len += g;
        ends[0] = (len, q);
        n_ends = 1;
    }
    ends[..n_ends]
        .iter()
        .rev()
        .filter(|&&(l, _)| match expected {
            Some(want) => l == want,
            None => (15..=34).contains(&l),
        })
        .find(|&&(l, _)| iban_mod97(&chars[..l]))
        .map(|&(_, end)| end)
}

fn scan_iban(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(p) = find_window4(b, from, |w, x, y, z| {
        w.is_ascii_uppercase() & x.is_ascii_uppercase() & y.is_ascii_digit() & z.is_ascii_digit()
    }) {
        from = p + 1;
        if is_word(before(b, p)) {
            continue;
        }
        if let Some(end) = parse_iban(b, p) {
            if !sink.push(p, end) {
                return;
            }
            from = end;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Authorization header credentials

#[inline]
fn is_token68(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// Start of the credential after a scheme word ending at `q`: whitespace, then not end.
fn after_scheme(b: &[u8], q: usize) -> Option<usize> {
    let mut k = q;
    while k < b.len() && (b[k] == b' ' || b[k] == b'\t') {
        k += 1;
    }
    (k > q && k < b.len()).then_some(k)
}

/// A value that reads like a word or a placeholder, not a random token: only letters and
/// `_`, and one case after the first character (`authentication`, `YOUR_API_TOKEN`).
fn word_like(v: &[u8]) -> bool {
    if !v.iter().all(|&c| c.is_ascii_alphabetic() || c == b'_') {
        return false;
    }
    let rest = v.get(1..).unwrap_or_default();
    !rest.iter().any(u8::is_ascii_uppercase) || !rest.iter().any(u8::is_ascii_lowercase)
}

fn scan_bearer(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(p) = find_ci(b, from, b"bearer") {
        from = p + 6;
        if is_word(before(b, p)) {
            continue;
        }
        let Some(s) = after_scheme(b, p + 6) else {
            continue;
        };
        let mut core = s;
        while core < b.len() && is_token68(b[core]) {
            core += 1;
        }
        let mut e = core;
        while e < b.len() && b[e] == b'=' {
            e += 1;
        }
        if e == core {
            while core > s && b[core - 1] == b'.' {
                core -= 1;
            }
            e = core;
        }
        let value = &b[s..core];
        if e - s < 8 || word_like(value) || !value.iter().any(u8::is_ascii_alphanumeric) {
            continue;
        }
        if !sink.push(s, e) {
            return;
        }
        from = e;
    }
}

fn scan_basic(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(p) = find_ci(b, from, b"basic") {
        from = p + 5;
        if is_word(before(b, p)) {
            continue;
        }
        let Some(s) = after_scheme(b, p + 5) else {
            continue;
        };
        let mut e = s;
        while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'+' || b[e] == b'/') {
            e += 1;
        }
        while e < b.len() && b[e] == b'=' {
            e += 1;
        }
        if e - s < 4 || is_word(at(b, e)) {
            continue;
        }
        let Some(decoded) = b64_decode(&b[s..e], false) else {
            continue;
        };
        let printable =
            std::str::from_utf8(&decoded).is_ok_and(|d| !d.chars().any(char::is_control));
        if printable && decoded.contains(&b':') && decoded.len() >= 2 {
            if !sink.push(s, e) {
                return;
            }
            from = e;
        }
    }
}

// ---------------------------------------------------------------------------------------
// JWT

#[inline]
fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Whether a base64url segment decodes to a JSON object that has all of `keys`.
fn json_header_with(segment: &[u8], keys: &[&str]) -> bool {
    let Some(decoded) = b64_decode(segment, true) else {
        return false;
    };
    let Ok(s) = std::str::from_utf8(&decoded) else {
        return false;
    };
    let s = s.trim();
    s.starts_with('{') && s.ends_with('}') && keys.iter().all(|k| s.contains(k))
}

fn scan_jwt(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(p) = find_str(text, from, "eyJ") {
        from = p + 3;
        let pre = before(b, p);
        if is_b64url(pre) || matches!(pre, b'.' | b'+' | b'/') {
            continue;
        }
        let mut q = p;
        while q < b.len() && (is_b64url(b[q]) || b[q] == b'.') {
            q += 1;
        }
        from = q;
        // Segment ends, up to 6; trailing empty segments past the third are punctuation.
        let mut seg_ends = [0usize; 6];
        let mut n = 0;
        let mut k = p;
        let mut too_many = false;
        loop {
            let mut e = k;
            while e < q && b[e] != b'.' {
                e += 1;
            }
            if n == seg_ends.len() {
                too_many = true;
                break;
            }
            seg_ends[n] = e;
            n += 1;
            if e >= q {
                break;
            }
            k = e + 1;
        }
        if too_many {
            continue;
        }
        let seg = |i: usize| {
            let s = if i == 0 { p } else { seg_ends[i - 1] + 1 };
            &b[s.min(seg_ends[i])..seg_ends[i]]
        };
        while n > 3 && seg(n - 1).is_empty() {
            n -= 1;
        }
        let valid = match n {
            3 => {
                json_header_with(seg(0), &["\"alg\""])
                    && !seg(1).is_empty()
                    && b64_decode(seg(1), true).is_some()
                    && b64_decode(seg(2), true).is_some()
            }
            5 => {
                json_header_with(seg(0), &["\"alg\"", "\"enc\""])
                    && !seg(3).is_empty()
                    && (1..5).all(|i| b64_decode(seg(i), true).is_some())
            }
            _ => false,
        };
        if valid {
            let end = seg_ends[n - 1];
            if !sink.push(p, end) {
                return;
            }
            from = end;
        }
    }
}

// ---------------------------------------------------------------------------------------
// PEM private keys

#[inline]
fn is_pem_label(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' '
}

/// End of `-----END <label>-----` at `e` if its label names a private key.
fn pem_end_line(b: &[u8], e: usize) -> Option<usize> {
    let ls = e + 9;
    let mut q = ls;
    while q < b.len() && is_pem_label(b[q]) {
        q += 1;
    }
    let label = &b[ls..q];
    let private = label.windows(11).any(|w| w == b"PRIVATE KEY");
    (private && b.get(q..q + 5) == Some(b"-----")).then_some(q + 5)
}

fn scan_pem(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    let mut from = 0;
    // The next "-----END " at or after some earlier position; `None` once there is none
    // left, so many BEGIN lines without END lines do not rescan the text each.
    let mut next_end: Option<usize> = Some(0);
    while let Some(p) = find_str(text, from, "-----BEGIN ") {
        from = p + 11;
        let ls = p + 11;
        let mut q = ls;
        while q < b.len() && is_pem_label(b[q]) {
            q += 1;
        }
        let label = &b[ls..q];
        if b.get(q..q + 5) != Some(b"-----")
            || !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK"))
        {
            continue;
        }
        let body = q + 5;
        if next_end.is_some_and(|e| e < body) {
            next_end = find_str(text, body, "-----END ");
        }
        let end = next_end
            .and_then(|e| pem_end_line(b, e))
            .unwrap_or_else(|| {
                // Cut off before its END line: the base64 body, headers and line breaks
                // (also JSON-escaped ones) that follow are still key material.
                let mut e = body;
                while e < b.len()
                    && (b[e].is_ascii_alphanumeric()
                        || b[e].is_ascii_whitespace()
                        || matches!(b[e], b'+' | b'/' | b'=' | b'\\' | b':' | b',' | b'-'))
                {
                    e += 1;
                }
                while e > body && b[e - 1].is_ascii_whitespace() {
                    e -= 1;
                }
                e
            });
        if !sink.push(p, end) {
            return;
        }
        from = end;
    }
}

// ---------------------------------------------------------------------------------------
// Cloud and SaaS tokens

const AWS_PREFIXES: [&[u8; 4]; 8] = [
    b"AKIA", b"ASIA", b"AGPA", b"AIDA", b"AROA", b"ANPA", b"ANVA", b"AIPA",
];

#[inline]
fn is_upper_alnum(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

fn scan_aws(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    // Access key ids: all eight prefixes are 'A', an uppercase letter, any, 'A'.
    let mut from = 0;
    while let Some(p) = find_window4(b, from, |w, x, _, z| {
        (w == b'A') & x.is_ascii_uppercase() & (z == b'A')
    }) {
        from = p + 1;
        let Some(prefix) = b.get(p..p + 4) else {
            break;
        };
        if !AWS_PREFIXES.iter().any(|&k| k == prefix) || is_word(before(b, p)) {
            continue;
        }
        let ok = b
            .get(p + 4..p + 20)
            .is_some_and(|rest| rest.iter().all(|&c| is_upper_alnum(c)))
            && !is_word(at(b, p + 20));
        if ok {
            if !sink.push(p, p + 20) {
                return;
            }
            from = p + 20;
        }
    }
    // Labelled secret access keys (the label is followed by '=' or ':').
    if !b.contains(&b'=') && !b.contains(&b':') {
        return;
    }
    let mut from = 0;
    while let Some(p) = find_ci(b, from, b"secret") {
        from = p + 6;
        if let Some((s, e)) = aws_secret_value(b, p + 6) {
            if !sink.push(s, e) {
                return;
            }
            from = e;
        }
    }
}

/// After "secret": `[_-.]?access[_-.]?key`, optional closing quote, `=`/`:`/`=>`/`:=`,
/// optional quote, then exactly 40 base64 characters.
fn aws_secret_value(b: &[u8], mut q: usize) -> Option<(usize, usize)> {
    let sep = |b: &[u8], q: usize| q + usize::from(matches!(at(b, q), b'_' | b'-' | b'.'));
    let word = |b: &[u8], q: usize, w: &[u8]| {
        b.get(q..q + w.len())
            .is_some_and(|x| x.eq_ignore_ascii_case(w))
            .then_some(q + w.len())
    };
    q = word(b, sep(b, q), b"access")?;
    q = word(b, sep(b, q), b"key")?;
    if matches!(at(b, q), b'"' | b'\'') {
        q += 1;
    }
    let skip_ws = |b: &[u8], mut q: usize| {
        while matches!(at(b, q), b' ' | b'\t') {
            q += 1;
        }
        q
    };
    q = skip_ws(b, q);
    match at(b, q) {
        b'=' | b':' => q += 1,
        _ => return None,
    }
    if matches!(at(b, q), b'>' | b'=') {
        q += 1;
    }
    q = skip_ws(b, q);
    if matches!(at(b, q), b'"' | b'\'') {
        q += 1;
    }
    let is_b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let value = b.get(q..q + 40)?;
    (value.iter().all(|&c| is_b64(c)) && !is_b64(at(b, q + 40)) && at(b, q + 40) != b'=')
        .then_some((q, q + 40))
}

fn scan_gcp(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    let is_key = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let mut from = 0;
    while let Some(p) = find_str(text, from, "AIza") {
        from = p + 4;
        let ok = !is_key(before(b, p))
            && b.get(p + 4..p + 39)
                .is_some_and(|rest| rest.iter().all(|&c| is_key(c)))
            && !is_key(at(b, p + 39));
        if ok {
            if !sink.push(p, p + 39) {
                return;
            }
            from = p + 39;
        }
    }
}

fn all_alnum(b: &[u8], s: usize, n: usize) -> bool {
    b.get(s..s + n)
        .is_some_and(|x| x.iter().all(u8::is_ascii_alphanumeric))
}

fn scan_github(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    if !b.contains(&b'_') {
        return;
    }
    // Classic tokens: gh[pousr]_ + 36.
    let mut from = 0;
    while let Some(p) = find_str(text, from, "gh") {
        from = p + 2;
        let ok = matches!(at(b, p + 2), b'p' | b'o' | b'u' | b's' | b'r')
            && at(b, p + 3) == b'_'
            && all_alnum(b, p + 4, 36)
            && !is_word(before(b, p))
            && !is_word(at(b, p + 40));
        if ok {
            if !sink.push(p, p + 40) {
                return;
            }
            from = p + 40;
        }
    }
    // Fine-grained personal access tokens: github_pat_ + 22 + _ + 59.
    let mut from = 0;
    while let Some(p) = find_str(text, from, "github_pat_") {
        from = p + 11;
        let ok = all_alnum(b, p + 11, 22)
            && at(b, p + 33) == b'_'
            && all_alnum(b, p + 34, 59)
            && !is_word(before(b, p))
            && !is_word(at(b, p + 93));
        if ok {
            if !sink.push(p, p + 93) {
                return;
            }
            from = p + 93;
        }
    }
}

fn scan_slack(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(p) = find_str(text, from, "xox") {
        from = p + 3;
        if !matches!(at(b, p + 3), b'a' | b'b' | b'p' | b'o' | b'r' | b's')
            || at(b, p + 4) != b'-'
            || before(b, p).is_ascii_alphanumeric()
        {
            continue;
        }
        let s = p + 5;
        let mut e = s;
        while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'-') {
            e += 1;
        }
        while e > s && b[e - 1] == b'-' {
            e -= 1;
        }
        let body = &b[s..e];
        if body.len() >= 10 && body.iter().any(u8::is_ascii_digit) && !sink.push(p, e) {
            return;
        }
        // A token starting later in this run has a suffix of this body: no better.
        from = e.max(from);
    }
    let mut from = 0;
    while let Some(p) = find_str(text, from, "hooks.slack.com/") {
        from = p + 16;
        let rest = p + 16;
        let (kind_len, services) = if b[rest..].starts_with(b"services/") {
            (9, true)
        } else if b[rest..].starts_with(b"workflows/") {
            (10, false)
        } else if b[rest..].starts_with(b"triggers/") {
            (9, false)
        } else {
            continue;
        };
        let ps = rest + kind_len;
        let mut e = ps;
        while e < b.len() && (b[e].is_ascii_alphanumeric() || matches!(b[e], b'/' | b'_' | b'-')) {
            e += 1;
        }
        while e > ps && b[e - 1] == b'/' {
            e -= 1;
        }
        let path = &b[ps..e];
        let ok = if services {
            path.split(|&c| c == b'/').filter(|s| !s.is_empty()).count() >= 3
        } else {
            path.len() >= 10
        };
        if !ok {
            continue;
        }
        let start = if p >= 8 && &b[p - 8..p] == b"https://" {
            p - 8
        } else if p >= 7 && &b[p - 7..p] == b"http://" {
            p - 7
        } else {
            p
        };
        if !sink.push(start, e) {
            return;
        }
        from = e;
    }
}

// ---------------------------------------------------------------------------------------
// Passwords in URLs

/// Bytes that end a URL authority.
#[inline]
fn ends_authority(c: u8) -> bool {
    c <= b' '
        || c == 0x7f
        || matches!(
            c,
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\'
        )
}

/// Masked or templated values that are not a password: `****`, `xxx`, `${DB_PASSWORD}`,
/// `{password}`, `<password>`, `[Filtered]`, `%s`.
fn password_placeholder(p: &[u8]) -> bool {
    let wrapped = |open: u8, close: u8| p.len() >= 2 && p[0] == open && p[p.len() - 1] == close;
    p.iter().all(|&c| c == b'*')
        || (p.len() >= 3 && p.iter().all(|&c| c == b'x' || c == b'X'))
        || wrapped(b'{', b'}')
        || wrapped(b'<', b'>')
        || wrapped(b'[', b']')
        || (p.len() >= 3 && p.starts_with(b"${") && p.ends_with(b"}"))
        || p == b"%s"
}

fn scan_url_password(text: &str, sink: &mut Sink) {
    let b = text.as_bytes();
    if !b.contains(&b'@') {
        return;
    }
    let mut from = 0;
    while let Some(p) = find_str(text, from, "://") {
        from = p + 3;
        let mut s = p;
        while s > 0 && (b[s - 1].is_ascii_alphanumeric() || matches!(b[s - 1], b'+' | b'-' | b'.'))
        {
            s -= 1;
        }
        while s < p && !b[s].is_ascii_alphabetic() {
            s += 1;
        }
        if s == p {
            continue;
        }
        let auth = p + 3;
        let mut q = auth;
        while q < b.len() && !ends_authority(b[q]) {
            q += 1;
        }
        from = q;
        let Some(at_rel) = b[auth..q].iter().rposition(|&c| c == b'@') else {
            continue;
        };
        let Some(colon) = b[auth..auth + at_rel].iter().position(|&c| c == b':') else {
            continue;
        };
        let (ps, pe) = (auth + colon + 1, auth + at_rel);
        if ps < pe && !password_placeholder(&b[ps..pe]) && !sink.push(ps, pe) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Custom

fn scan_custom(regex: &Regex, group: bool, text: &str, sink: &mut Sink) {
    if group {
        for caps in regex.captures_iter(text) {
            if let Some(m) = caps.get(1)
                && !sink.push(m.start(), m.end())
            {
                return;
            }
        }
    } else {
        for m in regex.find_iter(text) {
            if !sink.push(m.start(), m.end()) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/detectors");

    fn det(kind: DetectorKind) -> Detector {
        Detector::builtin(kind).expect("built-in kind")
    }

    fn hit_texts<'a>(d: &Detector, text: &'a str) -> Vec<&'a str> {
        d.find(text).iter().map(|h| &text[h.range()]).collect()
    }

    /// `\n` → newline, `\\` → backslash.
    fn unescape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('\\') => out.push('\\'),
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn corpus() {
        let mut failures = Vec::new();
        for kind in DetectorKind::BUILTIN {
            let path = format!("{CORPUS_DIR}/{}.txt", kind.name());
            let content = match std::fs::read_to_string(&path) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{path}: {e}"));
                    continue;
                }
            };
            let d = det(kind);
            let (mut pos, mut neg) = (0, 0);
            for (no, line) in content.lines().enumerate() {
                let line = line.trim_end_matches('\r');
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let at = format!("{}.txt:{}", kind.name(), no + 1);
                if let Some(rest) = line.strip_prefix("+ ") {
                    pos += 1;
                    let (text, want) = match rest.rsplit_once(" => ") {
                        Some((t, w)) => (unescape(t), Some(unescape(w))),
                        None => (unescape(rest), None),
                    };
                    let got = hit_texts(&d, &text);
                    if got.is_empty() {
                        failures.push(format!("{at}: not detected: {text:?}"));
                    } else if let Some(want) = want
                        && !got.contains(&want.as_str())
                    {
                        failures.push(format!("{at}: want hit {want:?}, got {got:?}"));
                    }
                    if d.is_match(&text) == got.is_empty() {
                        failures.push(format!("{at}: is_match disagrees with find"));
                    }
                } else if let Some(rest) = line.strip_prefix("- ") {
                    neg += 1;
                    let text = unescape(rest);
                    let got = hit_texts(&d, &text);
                    if !got.is_empty() {
                        failures.push(format!("{at}: false positive {got:?} in {text:?}"));
                    }
                    if d.is_match(&text) {
                        failures.push(format!("{at}: is_match true on a negative"));
                    }
                } else {
                    failures.push(format!("{at}: malformed line {line:?}"));
                }
            }
            if pos < 8 || neg < 8 {
                failures.push(format!(
                    "{}: only {pos} positives, {neg} negatives",
                    kind.name()
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} corpus failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// Every built-in detector's necessary-byte gate must hold for its own corpus
    /// positives, or `find_all` would miss them.
    #[test]
    fn find_all_agrees_with_find_on_corpus() {
        let detectors = builtin_detectors();
        for (i, d) in detectors.iter().enumerate() {
            let path = format!("{CORPUS_DIR}/{}.txt", d.name());
            let content = std::fs::read_to_string(&path).unwrap();
            for line in content.lines() {
                let Some(rest) = line.strip_prefix("+ ").or_else(|| line.strip_prefix("- ")) else {
                    continue;
                };
                let text = unescape(rest.rsplit_once(" => ").map_or(rest, |(t, _)| t));
                let alone = d.find(&text);
                let merged: Vec<Hit> = find_all(&detectors, &text)
                    .into_iter()
                    .filter(|&(j, _)| j == i)
                    .map(|(_, h)| h)
                    .collect();
                assert_eq!(alone, merged, "{}: {text:?}", d.name());
            }
        }
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in DetectorKind::BUILTIN
            .into_iter()
            .chain([DetectorKind::Custom])
        {
            assert_eq!(kind.name().parse::<DetectorKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(
            "creditcard".parse::<DetectorKind>().unwrap(),
            DetectorKind::CreditCard
        );
        assert_eq!(
            "pem".parse::<DetectorKind>().unwrap(),
            DetectorKind::PemPrivateKey
        );
        let err = "ip".parse::<DetectorKind>().unwrap_err();
        assert_eq!(err.input, "ip");
        assert!(err.to_string().contains("ipv4"));
        assert!("Email".parse::<DetectorKind>().is_err());
        assert!(
            DetectorKind::BUILTIN
                .iter()
                .all(|&k| k != DetectorKind::Custom)
        );
    }

    #[test]
    fn serde_names_and_aliases() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        let parse = |s: &'static str| {
            let de: StrDeserializer<'_, Error> = s.into_deserializer();
            DetectorKind::deserialize(de)
        };
        for kind in DetectorKind::BUILTIN {
            assert_eq!(parse(kind.name()).unwrap(), kind);
        }
        assert_eq!(parse("creditcard").unwrap(), DetectorKind::CreditCard);
        assert_eq!(parse("pem").unwrap(), DetectorKind::PemPrivateKey);
        assert!(parse("ip").is_err());
    }

    #[test]
    fn hit_helpers() {
        let hit = Hit { start: 2, end: 5 };
        assert_eq!(hit.range(), 2..5);
        assert_eq!(hit.len(), 3);
        assert!(!hit.is_empty());
        assert_eq!(
            &"a@b.io x"[det(DetectorKind::Email).find("a@b.io x")[0].range()],
            "a@b.io"
        );
    }

    #[test]
    fn builtin_custom_is_none_and_names() {
        assert!(Detector::builtin(DetectorKind::Custom).is_none());
        let all = builtin_detectors();
        assert_eq!(all.len(), 14);
        for (d, kind) in all.iter().zip(DetectorKind::BUILTIN) {
            assert_eq!(d.kind(), kind);
            assert_eq!(d.name(), kind.name());
        }
    }

    #[test]
    fn custom_whole_match_and_group() {
        let whole = Detector::custom("device_id", r"d/[a-f0-9]{12}").unwrap();
        assert_eq!(whole.kind(), DetectorKind::Custom);
        assert_eq!(whole.name(), "device_id");
        let text = "x d/0123456789ab y d/ba9876543210";
        assert_eq!(
            hit_texts(&whole, text),
            ["d/0123456789ab", "d/ba9876543210"]
        );

        let group = Detector::custom("sid", r"sid=([0-9a-f]+)|token").unwrap();
        // The second alternative matches without group 1: no hit for it.
        assert_eq!(
            hit_texts(&group, "sid=abc123 token sid=ff"),
            ["abc123", "ff"]
        );
        assert!(group.is_match("sid=1"));
        assert!(!group.is_match("token only"));

        let empty = Detector::custom("empty", r"a*").unwrap();
        assert_eq!(hit_texts(&empty, "bbaab"), ["aa"]);
    }

    #[test]
    fn custom_invalid_pattern_is_an_error() {
        let err = Detector::custom("broken", "(unclosed").unwrap_err();
        let DetectorError::Pattern { name, .. } = &err;
        assert_eq!(name, "broken");
        assert!(
            err.to_string()
                .starts_with("invalid pattern for detector \"broken\": ")
        );
        assert!(std::error::Error::source(&err).is_some());
        assert!(Detector::custom("huge", r"\w{1000}\w{1000}\w{1000}").is_err());
    }

    #[test]
    fn find_all_merges_sorted_with_overlaps() {
        let detectors = builtin_detectors();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        let text = format!("from ::ffff:10.1.2.3 user a@example.com auth Bearer {jwt}");
        let hits = find_all(&detectors, &text);
        let named: Vec<(&str, &str)> = hits
            .iter()
            .map(|&(i, h)| (detectors[i].name(), &text[h.range()]))
            .collect();
        assert_eq!(
            named,
            [
                ("ipv6", "::ffff:10.1.2.3"),
                ("ipv4", "10.1.2.3"),
                ("email", "a@example.com"),
                ("bearer_token", jwt),
                ("jwt", jwt),
            ]
        );
        assert!(hits.windows(2).all(|w| w[0].1.start <= w[1].1.start));
        assert!(find_all(&detectors, "").is_empty());
        assert!(find_all(&[], "a@example.com").is_empty());
        let custom = [Detector::custom("c", "secret").unwrap()];
        assert_eq!(
            find_all(&custom, "a secret"),
            [(0, Hit { start: 2, end: 8 })]
        );
    }

    #[test]
    fn multiple_hits_per_detector() {
        let card = det(DetectorKind::CreditCard);
        assert_eq!(
            hit_texts(
                &card,
                "4111111111111111,5555555555554444 and 378282246310005"
            ),
            ["4111111111111111", "5555555555554444", "378282246310005"]
        );
        let ip = det(DetectorKind::Ipv4);
        assert_eq!(
            hit_texts(&ip, "1.1.1.1,8.8.4.4 9.9.9.9"),
            ["1.1.1.1", "8.8.4.4", "9.9.9.9"]
        );
        let email = det(DetectorKind::Email);
        assert_eq!(hit_texts(&email, "a@b.io;c@d.io"), ["a@b.io", "c@d.io"]);
        let aws = det(DetectorKind::AwsAccessKey);
        let text = "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
                    aws_access_key_id=AKIAIOSFODNN7EXAMPLE";
        assert_eq!(
            hit_texts(&aws, text),
            [
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "AKIAIOSFODNN7EXAMPLE"
            ]
        );
    }

    #[test]
    fn card_in_long_digit_group_chains() {
        let card = det(DetectorKind::CreditCard);
        for at in 0..30 {
            let mut groups: Vec<String> = (0..30).map(|k| format!("1{k:02}")).collect();
            groups.insert(at, "3782 822463 10005".to_owned());
            let text = groups.join(" ");
            assert_eq!(hit_texts(&card, &text), ["3782 822463 10005"], "{text}");
        }
        let many = "4111 1111 1111 1111 ".repeat(40);
        assert_eq!(card.find(&many).len(), 40);
    }

    /// Repetitive inputs that would make a careless scanner quadratic; with linear scanners
    /// this takes milliseconds, with a quadratic one it would not finish.
    #[test]
    fn pathological_inputs_stay_linear() {
        let detectors = builtin_detectors();
        let unit = [
            "-----BEGIN RSA PRIVATE KEY-----",
            "xoxb-",
            "a@b.co",
            "Bearer ",
            "bearer x-",
            "Basic ",
            "eyJ.",
            "eyJhbGciOiJub25lIn0.",
            "1 ",
            "4111 ",
            "AB12",
            "DE89 ",
            "1.2.3.4.",
            "::",
            "a:",
            "a://",
            "x://u:p@",
            "secret_access_key=",
            "AKIA",
            "AIza",
            "ghp_",
            "github_pat_",
            "hooks.slack.com/services/",
            "@",
            "a.",
        ];
        for u in unit {
            let text = u.repeat(100_000 / u.len());
            for d in &detectors {
                let hits = d.find(&text);
                assert!(
                    hits.windows(2).all(|w| w[0].end <= w[1].start),
                    "{}",
                    d.name()
                );
            }
            assert!(find_all(&detectors, &text).len() < text.len());
        }
        let long_local = format!("{}@example.com", "a".repeat(100_000));
        assert!(det(DetectorKind::Email).find(&long_local).is_empty());
    }

    #[test]
    fn helpers() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(!iban_mod97(b"DE89370400440532013001"));
        assert_eq!(b64_decode(b"dXNlcjpwYXNz", false).unwrap(), b"user:pass");
        assert_eq!(b64_decode(b"YXBpOg==", false).unwrap(), b"api:");
        assert_eq!(b64_decode(b"YXBpOg", false).unwrap(), b"api:");
        assert!(b64_decode(b"YXBpO", false).is_none());
        assert!(b64_decode(b"YX=pOg==", false).is_none());
        assert_eq!(find_ci(b"xx BeArEr y", 0, b"bearer"), Some(3));
        assert_eq!(find_ci(b"bearer", 1, b"bearer"), None);
        assert_eq!(
            find_window4(b"..ab12", 0, |a, b, c, d| (a == b'a')
                & (b == b'b')
                & (c == b'1')
                & (d == b'2')),
            Some(2)
        );
        let s = Stats::of("Ab-:.@_ 9Jz=/gKxI".as_bytes());
        assert!((0..8).all(|k| s.n(k) == if k == L_UPPER { 4 } else { 1 }));
        let bits = P_CAP_A | P_CAP_I | P_CAP_J | P_LOWER_Z | P_SLASH | letters(b"abgkxijz");
        assert_eq!(s.present & bits, bits);
        assert_eq!(s.present & letters(b"q"), 0);
        assert!(Gate::new(at_least(&[(L_UPPER, 4), (L_DIGIT, 1)]), P_CAP_J).admits(&s));
        assert!(!Gate::new(at_least(&[(L_UPPER, 5)]), 0).admits(&s));
        assert!(!Gate::new(at_least(&[]), letters(b"q")).admits(&s));
        assert!(Gate::ALWAYS.admits(&s) && !Gate::NEVER.admits(&s));
        let many = Stats::of("1".repeat(200).as_bytes());
        assert!(Gate::new(at_least(&[(L_DIGIT, 127)]), 0).admits(&many));
        assert_eq!(
            add_saturating_lanes(200 | (3 << 8), 100 | (4 << 8)),
            255 | (7 << 8)
        );
        let long = "1".repeat(1000);
        assert_eq!(Stats::of(long.as_bytes()).n(L_DIGIT), 255);
        assert_eq!(Stats::of(long.as_bytes()).n(L_DOT), 0);
    }

    #[test]
    fn hits_are_on_char_boundaries_with_unicode_around() {
        let text = "é 4111 1111 1111 1111 ü jörg@exämple.com 名前 a@例え.jp x@b.com";
        for d in builtin_detectors() {
            for h in d.find(text) {
                assert!(text.get(h.range()).is_some(), "{}", d.name());
            }
        }
        assert_eq!(hit_texts(&det(DetectorKind::Email), text), ["x@b.com"]);
    }

    fn check_invariants(d: &Detector, text: &str) -> Result<(), TestCaseError> {
        let hits = d.find(text);
        let mut last = 0;
        for h in &hits {
            prop_assert!(h.start < h.end, "{}: empty hit {h:?}", d.name());
            prop_assert!(h.start >= last, "{}: overlap/unsorted {hits:?}", d.name());
            prop_assert!(
                text.get(h.range()).is_some(),
                "{}: bad range {h:?}",
                d.name()
            );
            last = h.end;
        }
        prop_assert_eq!(d.is_match(text), !hits.is_empty(), "{}", d.name());
        Ok(())
    }

    /// Text made of the bytes the detectors care about, so scanners go deep.
    fn spicy() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "a",
            "Z",
            "0",
            "1",
            "4",
            "9",
            ".",
            ":",
            "::",
            "-",
            "_",
            " ",
            "\t",
            "\n",
            "@",
            "/",
            "//",
            "://",
            "=",
            "==",
            "+",
            "é",
            "名",
            "\"",
            "'",
            "AKIA",
            "AIza",
            "ghp_",
            "github_pat_",
            "xoxb-",
            "eyJ",
            "Bearer ",
            "basic ",
            "-----BEGIN ",
            "PRIVATE KEY-----",
            "-----END ",
            "DE89",
            "GB82 ",
            "4111 ",
            "1111",
            "255.",
            "ffff",
            "example.com",
            "secret_access_key=",
            "hooks.slack.com/services/",
            "T0/B0/X",
            "dXNlcjpwYXNz",
            "eyJhbGciOiJub25lIn0",
            "0000",
            "\\n",
        ]);
        prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn find_never_panics_arbitrary(text in any::<String>()) {
            for d in builtin_detectors() {
                check_invariants(&d, &text)?;
            }
        }

        #[test]
        fn find_never_panics_spicy(text in spicy()) {
            let detectors = builtin_detectors();
            for d in &detectors {
                check_invariants(d, &text)?;
            }
            let merged = find_all(&detectors, &text);
            prop_assert!(merged.windows(2).all(|w| w[0].1.start <= w[1].1.start));
            // The byte-class gates of `find_all` never hide a hit.
            for (i, d) in detectors.iter().enumerate() {
                let mine: Vec<Hit> = merged.iter().filter(|&&(j, _)| j == i).map(|&(_, h)| h).collect();
                prop_assert_eq!(mine, d.find(&text), "{}", d.name());
            }
        }

        #[test]
        fn custom_never_panics(text in spicy(), grouped in any::<bool>()) {
            let pattern = if grouped { r"(\d+)|[a-z]*" } else { r"\d*" };
            let d = Detector::custom("p", pattern).unwrap();
            check_invariants(&d, &text)?;
        }

        #[test]
        fn embedded_positives_survive_noise(prefix in "[ a-z,;()\\[\\]]{0,8}", suffix in "([ ,;)\\]][ a-z]{0,5}|[.] [a-z]{0,5}|[.])?") {
            let cases = [
                (DetectorKind::Email, "jane.doe@example.com"),
                (DetectorKind::Ipv4, "192.168.1.10"),
                (DetectorKind::Ipv6, "2001:db8::1"),
                (DetectorKind::CreditCard, "4111 1111 1111 1111"),
                (DetectorKind::Iban, "DE89370400440532013000"),
                (DetectorKind::AwsAccessKey, "AKIAIOSFODNN7EXAMPLE"),
                (DetectorKind::GcpApiKey, "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"),
            ];
            for (kind, value) in cases {
                let text = format!("{prefix} {value}{suffix}");
                let got = hit_texts(&det(kind), &text);
                prop_assert!(got.contains(&value), "{kind}: {text:?} -> {got:?}");
            }
        }
    }

    /// A Python-SDK-like error event, as the list of its strings (about 4 KB).
    fn sample_event_strings() -> Vec<String> {
        let mut v: Vec<String> = [
            "c3a2d5e0f6b14c8e9a7b2d1e0f3c4b5a",
            "2024-01-15T12:34:56.789012Z",
            "python",
            "error",
            "processor-7f9c8d6b5-x2x9z",
            "socorro@2024.01.15",
            "production",
            "socorro.processor.processor_app",
            "KeyError",
            "'crash_id'",
            "builtins",
            "/app/socorro/processor/processor_pipeline.py",
            "socorro/processor/processor_pipeline.py",
            "process_crash",
            "socorro.processor.processor_pipeline",
            "        processed_crash = self.pipeline.process_crash(raw_crash, dumps, processed_crash)",
            "    def process_crash(self, ruleset_name, raw_crash, dumps, processed_crash, tmpdir):",
            "        \"\"\"Process a crash with the given ruleset.\"\"\"",
            "        crash_id = raw_crash[\"uuid\"]",
            "        start_time = time.time()",
            "        for rule in self.rulesets[ruleset_name]:",
            "/usr/local/lib/python3.11/site-packages/fillmore/scrubber.py",
            "fillmore.scrubber",
            "__call__",
            "            return self.scrub(event, hint)",
            "<socorro.processor.rules.mozilla.OutOfMemoryBinaryRule object at 0x7f2c1a3b4d90>",
            "{'ProductName': 'Firefox', 'Version': '121.0', 'BuildID': '20231211174248'}",
            "'/tmp/tmpa1b2c3d4/upload_file_minidump'",
            "8f9e2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b",
            "http",
            "Starting new HTTPS connection (1): crash-stats.mozilla.org:443",
            "urllib3.connectionpool",
            "https://crash-stats.mozilla.org:443 \"GET /api/ProcessedCrash/?crash_id=8f9e2a3b HTTP/1.1\" 200 5123",
            "query",
            "SELECT id, crash_id, date_processed FROM raw_crashes WHERE crash_id = %s",
            "https://crash-stats.mozilla.org/report/index/8f9e2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b",
            "GET",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "crash-stats.mozilla.org",
            "gzip, deflate, br",
            "en-US,en;q=0.5",
            "Linux",
            "5.15.0-1051-aws",
            "CPython",
            "3.11.7",
            "3.11.7 (main, Dec 19 2023, 20:33:16) [GCC 12.2.0]",
            "sentry.python",
            "1.39.1",
            "pypi:sentry-sdk",
            "sentry.integrations.logging",
            "sentry.integrations.stdlib",
            "sentry.integrations.excepthook",
            "sentry.integrations.dedupe",
            "sentry.integrations.atexit",
            "sentry.integrations.modules",
            "sentry.integrations.argv",
            "sentry.integrations.threading",
            "ruleset_name",
            "'default'",
            "processing crash 8f9e2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b with 23 rules",
            "MainThread",
            "1402339871232",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        while v.iter().map(String::len).sum::<usize>() < 4096 {
            v.push(
                "        value = self.config.get(\"processor.rules\", default=None)  # line 412"
                    .into(),
            );
        }
        v
    }

    /// Best-of-`trials` seconds for one call of `f`: the machine this runs on is shared, so
    /// the fastest trial is the least disturbed one.
    fn best_secs(trials: usize, mut f: impl FnMut()) -> f64 {
        (0..trials)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// Throughput of each detector alone and of `find_all`, on the strings of a 4 KB event
    /// (no hits: the common case) and on one long string. Prints MB/s, asserts nothing.
    /// Run with `cargo test --release -- --ignored --nocapture throughput`.
    #[test]
    #[ignore = "benchmark; prints MB/s, asserts nothing about time"]
    fn throughput() {
        use std::hint::black_box;
        let strings = sample_event_strings();
        let bytes: usize = strings.iter().map(String::len).sum();
        let (rounds, trials) = (2_000, 15);
        let detectors = builtin_detectors();
        println!(
            "event: {} strings, {bytes} bytes; best of {trials} x {rounds} events",
            strings.len()
        );
        let mb_s = |secs: f64, total: usize| total as f64 / secs / 1e6;
        for (i, d) in detectors.iter().enumerate() {
            let secs = best_secs(trials, || {
                for _ in 0..rounds {
                    for s in &strings {
                        black_box(d.find(black_box(s)));
                    }
                }
            });
            let gated = best_secs(trials, || {
                for _ in 0..rounds {
                    for s in &strings {
                        black_box(find_all(black_box(&detectors[i..=i]), black_box(s)));
                    }
                }
            });
            println!(
                "{:>16}: find {:>6.0} MB/s   find_all([it]) {:>6.0} MB/s",
                d.name(),
                mb_s(secs, bytes * rounds),
                mb_s(gated, bytes * rounds)
            );
        }
        let secs = best_secs(trials, || {
            for _ in 0..rounds {
                for s in &strings {
                    black_box(find_all(black_box(&detectors), black_box(s)));
                }
            }
        });
        println!(
            "find_all(all 14): {:.0} MB/s = {:.0} events/s of 4 KB",
            mb_s(secs, bytes * rounds),
            rounds as f64 / secs
        );
        let stats = best_secs(trials, || {
            for _ in 0..rounds {
                for s in &strings {
                    black_box(Stats::of(black_box(s.as_bytes())));
                }
            }
        });
        println!(
            "  of which the byte-class pass: {:.0} MB/s",
            mb_s(stats, bytes * rounds)
        );
        let blob: String = strings.join(" ").repeat(256);
        let secs = best_secs(trials, || {
            black_box(find_all(black_box(&detectors), black_box(&blob)));
        });
        println!(
            "find_all(all 14) on one {} KB string: {:.0} MB/s",
            blob.len() >> 10,
            mb_s(secs, blob.len())
        );
        assert!(find_all(&detectors, &blob).is_empty());
    }
}
