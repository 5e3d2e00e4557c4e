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
//! - secret families (kind `secret`, named per family: `stripe_secret_key`, `gitlab_pat`,
//!   `generic_api_key`, ...): the rules of gitleaks' default set and of our
//!   `rules/understudy.toml`, matched as gitleaks does (keywords, secret group, entropy,
//!   allowlists); see the `secrets` module. In [`find_all`] a family's hit that overlaps a
//!   more specific detector's hit is dropped, so one secret is one finding.
//! - `mac`, `uuid`, `imei`, `us_ssn`, `user_path`: Relay's regexes for these identifiers
//!   (`identifiers`), nothing validated; the hit is the whole match, for `user_path` the user
//!   name after the home folder. `all` leaves them out (see [`DetectorKind::NOT_IN_ALL`]).
//! - `custom`: a user regex; the hit is the whole match, or capture group 1 when the pattern
//!   has any capture group (a match whose group 1 did not take part is skipped). Empty
//!   matches are never hits.
//!
//! # Known limitations
//! - Secret families see only the string, not its key: a rule that needs a label next to the
//!   value (`datadog_access_token`, `generic_api_key`) finds `key=value` text, not a value
//!   stored under a key of that name (the key rules of the presets handle those).
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
//!
//! # Layout
//! This file holds the public surface ([`DetectorKind`], [`Detector`], [`Hit`], [`find_all`])
//! and dispatches to one scanner per kind, grouped by family: `address` (e-mail, IPv4,
//! IPv6), `payment` (cards, IBAN), `credentials` (bearer, basic, JWT, URL passwords),
//! `keys` (PEM private keys, AWS, GCP, GitHub, Slack), `identifiers` (Relay's MAC, UUID,
//! IMEI, SSN and user path regexes, which Relay configs use too) and `secrets` (the rule-file
//! families). `scan` holds what the scanners share, `prefilter` the byte statistics and
//! gates behind [`find_all`]; the tests read the `testdata/detectors/<kind>.txt` and
//! `testdata/detectors/secrets/<family>.txt` corpora.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use regex::Regex;

mod address;
mod credentials;
mod identifiers;
mod keys;
mod payment;
mod prefilter;
mod scan;
mod secrets;
#[cfg(test)]
mod tests;

use address::{scan_email, scan_ipv4, scan_ipv6};
use credentials::{scan_basic, scan_bearer, scan_jwt, scan_url_password};
pub(crate) use identifiers::{IMEI, MAC, US_SSN, USER_PATH, UUID};
use keys::{scan_aws, scan_gcp, scan_github, scan_pem, scan_slack};
use payment::{scan_card, scan_iban};
use prefilter::{Gate, Stats, gates};
use scan::{Sink, normalize, scan_regex};

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
    /// MAC addresses (Relay's `mac`).
    Mac,
    /// UUIDs (Relay's `uuid`).
    Uuid,
    /// IMEIs (Relay's `imei`).
    Imei,
    /// US social security numbers (Relay's `us_ssn`, `@usssn`).
    #[serde(alias = "usssn")]
    UsSsn,
    /// The user name in a home folder's path (Relay's `userpath`).
    #[serde(alias = "userpath")]
    UserPath,
    /// A secret family from the rule files (`stripe_secret_key`, `gitlab_pat`, ...); the
    /// detector's name is the family. See [`secret_detectors`].
    Secret,
    /// A user-defined regex.
    Custom,
}

impl DetectorKind {
    /// Every built-in kind a policy can name, in declaration order (all but
    /// [`DetectorKind::Secret`], whose detectors are named by family, and
    /// [`DetectorKind::Custom`]).
    pub const BUILTIN: [DetectorKind; 19] = [
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
        DetectorKind::Mac,
        DetectorKind::Uuid,
        DetectorKind::Imei,
        DetectorKind::UsSsn,
        DetectorKind::UserPath,
    ];

    /// The built-in kinds that `all` leaves out: Relay's identifier regexes, which match bare
    /// shapes that events are full of (every event id is a UUID, every 15-digit number an
    /// IMEI, `/users/42` a user path). A policy names them one by one.
    pub const NOT_IN_ALL: [DetectorKind; 5] = [
        DetectorKind::Mac,
        DetectorKind::Uuid,
        DetectorKind::Imei,
        DetectorKind::UsSsn,
        DetectorKind::UserPath,
    ];

    /// Whether `all` names this kind: a built-in kind not in [`DetectorKind::NOT_IN_ALL`].
    pub fn in_all(self) -> bool {
        Self::BUILTIN.contains(&self) && !Self::NOT_IN_ALL.contains(&self)
    }

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
            DetectorKind::Mac => "mac",
            DetectorKind::Uuid => "uuid",
            DetectorKind::Imei => "imei",
            DetectorKind::UsSsn => "us_ssn",
            DetectorKind::UserPath => "user_path",
            DetectorKind::Secret => "secret",
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
     github_token, slack_token, url_password, mac, uuid, imei, us_ssn, user_path, secret, \
     custom)"
)]
pub struct UnknownDetectorKind {
    /// The name that was given.
    pub input: String,
}

impl FromStr for DetectorKind {
    type Err = UnknownDetectorKind;

    /// Parses the snake_case name; `creditcard`, `pem`, `usssn` and `userpath` are accepted as
    /// aliases.
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
            "mac" => DetectorKind::Mac,
            "uuid" => DetectorKind::Uuid,
            "imei" => DetectorKind::Imei,
            "us_ssn" | "usssn" => DetectorKind::UsSsn,
            "user_path" | "userpath" => DetectorKind::UserPath,
            "secret" => DetectorKind::Secret,
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
    /// The secret rule that found it, for secret detectors ([`Detector::name_of`]).
    rule: Option<u16>,
}

impl Hit {
    /// A hit of `start..end` that no secret rule made.
    pub fn new(start: usize, end: usize) -> Hit {
        Hit {
            start,
            end,
            rule: None,
        }
    }

    /// How specific the detector behind it is: hand-written and custom detectors 0, secret
    /// families 1, catch-all secret rules (`generic_api_key`, `secret_assignment`) 2. A hit
    /// that overlaps a more specific one is the same secret seen less precisely.
    fn specificity(self) -> u8 {
        match self.rule {
            Some(rule) if secrets::rules().is_generic(usize::from(rule)) => 2,
            Some(_) => 1,
            None => 0,
        }
    }

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
    /// These rules of [`secrets::rules`]: one family, or all of them.
    Secrets(Box<secrets::RuleSet>),
    Custom {
        regex: Regex,
        group: bool,
    },
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
        if matches!(kind, DetectorKind::Custom | DetectorKind::Secret) {
            return None;
        }
        Some(Detector {
            kind,
            name: Cow::Borrowed(kind.name()),
            matcher: Matcher::Builtin,
            gates: gates(kind),
        })
    }

    /// The detector of one secret family (`stripe_secret_key`), if there is such a family.
    pub fn secret(family: &str) -> Option<Detector> {
        let rules = secrets::rules();
        let set = rules.family_rules(family);
        let first = set.iter().next()?;
        Some(Detector {
            kind: DetectorKind::Secret,
            name: Cow::Borrowed(rules.family(first)),
            matcher: Matcher::Secrets(Box::new(set)),
            gates: [Gate::ALWAYS, Gate::ALWAYS],
        })
    }

    /// One detector for every secret family at once, named `secrets`; its hits are named by
    /// family ([`Detector::name_of`]). One keyword pass then gates every rule, which is what
    /// keeps `all` fast.
    pub fn secrets() -> Detector {
        Detector {
            kind: DetectorKind::Secret,
            name: Cow::Borrowed("secrets"),
            matcher: Matcher::Secrets(Box::new(secrets::rules().all())),
            gates: [Gate::ALWAYS, Gate::ALWAYS],
        }
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

    /// The kind's name for built-ins, the family for one secret family, `secrets` for all of
    /// them, the given name for custom detectors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// [`Detector::name_of`] as a name to keep: borrowed for built-in detectors and secret
    /// families, so a change that records it allocates nothing.
    pub fn label_of(&self, hit: Hit) -> Cow<'static, str> {
        match hit.rule {
            Some(rule) => Cow::Borrowed(secrets::rules().family(usize::from(rule))),
            None => self.name.clone(),
        }
    }

    /// What to call one of this detector's hits in a finding: the secret family that found
    /// it (`stripe_secret_key`), else the detector's name.
    pub fn name_of(&self, hit: Hit) -> &str {
        match hit.rule {
            Some(rule) => secrets::rules().family(usize::from(rule)),
            None => self.name(),
        }
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
        self.scan_admitted(text, hits, first_only, None);
    }

    /// [`Detector::scan`], given the secret rules whose keywords `text` has when the
    /// caller already knows them.
    fn scan_admitted(
        &self,
        text: &str,
        hits: &mut Vec<Hit>,
        first_only: bool,
        admitted: Option<&secrets::RuleSet>,
    ) {
        let mut sink = Sink { hits, first_only };
        match &self.matcher {
            Matcher::Secrets(set) => {
                let rules = secrets::rules();
                let mut run = match admitted {
                    Some(admitted) => *admitted,
                    None => rules.admitted(text, &Stats::of(text.as_bytes())),
                };
                run.intersect(set);
                rules.scan_all(&run, text, &mut sink);
            }
            Matcher::Custom { regex, group } => scan_regex(regex, *group, text, &mut sink),
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
                DetectorKind::Mac => scan_regex(&MAC, false, text, &mut sink),
                DetectorKind::Uuid => scan_regex(&UUID, false, text, &mut sink),
                DetectorKind::Imei => scan_regex(&IMEI, false, text, &mut sink),
                DetectorKind::UsSsn => scan_regex(&US_SSN, false, text, &mut sink),
                DetectorKind::UserPath => scan_regex(&USER_PATH, true, text, &mut sink),
                DetectorKind::Secret | DetectorKind::Custom => {}
            },
        }
        normalize(text, hits);
    }
}

/// The detectors `all` names: the built-in kinds in [`DetectorKind::BUILTIN`] order but those
/// of [`DetectorKind::NOT_IN_ALL`], then [`Detector::secrets`] for every secret family.
pub fn builtin_detectors() -> Vec<Detector> {
    DetectorKind::BUILTIN
        .iter()
        .filter(|kind| kind.in_all())
        .filter_map(|&kind| Detector::builtin(kind))
        .chain([Detector::secrets()])
        .collect()
}

/// One detector per secret family, in rule-file order.
pub fn secret_detectors() -> Vec<Detector> {
    let mut families: Vec<&str> = secret_families().iter().map(|&(f, _)| f).collect();
    families.dedup();
    families.into_iter().filter_map(Detector::secret).collect()
}

/// Every secret family with the rule it comes from (`("stripe_secret_key",
/// "understudy:stripe-secret-key")`), in rule-file order.
pub fn secret_families() -> Vec<(&'static str, &'static str)> {
    let rules = secrets::rules();
    (0..rules.len())
        .map(|i| (rules.family(i), rules.source(i)))
        .collect()
}

/// Runs several detectors over one text and merges their hits: `(detector index, hit)`
/// sorted by start (ties by detector index, then end). Overlapping hits from different
/// detectors are all reported, except that a secret family's hit gives way to an
/// overlapping hit of a more specific detector (hand-written before families, families
/// before catch-alls), so one secret is one finding. Per detector hits never overlap.
pub fn find_all(detectors: &[Detector], text: &str) -> Vec<(usize, Hit)> {
    let mut out = Vec::new();
    if text.is_empty() || detectors.is_empty() {
        return out;
    }
    let stats = if detectors
        .iter()
        .any(|d| !matches!(d.matcher, Matcher::Custom { .. }))
    {
        Stats::of(text.as_bytes())
    } else {
        Stats::ALL
    };
    // The keyword pass for every secret rule at once, on the first secret detector.
    let mut admitted: Option<secrets::RuleSet> = None;
    let mut hits = Vec::new();
    for (index, detector) in detectors.iter().enumerate() {
        if !detector.may_match(&stats) {
            continue;
        }
        hits.clear();
        if let Matcher::Secrets(_) = detector.matcher {
            let set = admitted.get_or_insert_with(|| secrets::rules().admitted(text, &stats));
            if set.is_empty() {
                continue;
            }
            detector.scan_admitted(text, &mut hits, false, Some(set));
        } else {
            detector.scan(text, &mut hits, false);
        }
        out.extend(hits.iter().map(|&hit| (index, hit)));
    }
    if out.len() > 1 {
        out.sort_by_key(|&(index, hit)| (hit.start, index, hit.end));
        drop_less_specific(&mut out);
    }
    out
}

/// Removes secret-family hits that overlap a hit of a more specific detector.
fn drop_less_specific(out: &mut Vec<(usize, Hit)>) {
    if out.iter().all(|&(_, hit)| hit.rule.is_none()) {
        return;
    }
    let ranked: Vec<(u8, Hit)> = out.iter().map(|&(_, h)| (h.specificity(), h)).collect();
    out.retain(|&(_, hit)| {
        let mine = hit.specificity();
        !ranked
            .iter()
            .any(|&(other, h)| other < mine && h.start < hit.end && hit.start < h.end)
    });
}
