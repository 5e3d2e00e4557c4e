//! The events `bench fake-sentry-db` stores: the real sentry-sdk error envelope, each copy
//! different, so that searches over the store have words to find at known frequencies.
//!
//! Envelope `n` is the fixture with its own event id and its own exception: one of
//! [`EXCEPTION_TYPES`] (so `ivisionErr`, inside `ZeroDivisionError`, is a substring in about one
//! event in seven) and a message of one of [`ACTIONS`] (so each, `checkout` among them, is a
//! word in about one event in eight), one of [`THINGS`] and the event's number (so every
//! message differs, as messages with ids in them do). Every [`RARE_EVERY`]th event (from the
//! first) also says `needle<k>`, `k` cycling through [`RARE_WORDS`] values: a word that a
//! search must look through the whole store for. [`ABSENT_WORD`] is in no event.
//!
//! Deterministic: the same `n` is always the same bytes, so a kept store can be searched
//! again by a later run.

use std::io::{Read, Write};

use crate::sentry_ingest::{PYTHON_ERROR_ENVELOPE_GZ, event_id};

pub const EXCEPTION_TYPES: [&str; 7] = [
    "ValueError",
    "KeyError",
    "TypeError",
    "ZeroDivisionError",
    "ConnectionError",
    "TimeoutError",
    "PermissionError",
];
pub const ACTIONS: [&str; 8] = [
    "checkout", "upload", "login", "search", "refund", "export", "import", "billing",
];
pub const THINGS: [&str; 8] = [
    "cart", "invoice", "profile", "session", "report", "token", "ledger", "payment",
];

/// One event in this many carries a rare word.
pub const RARE_EVERY: u64 = 10_000;
/// How many distinct rare words there are: `needle0` to `needle3`.
pub const RARE_WORDS: u64 = 4;
/// A word about one event in eight has.
pub const COMMON_WORD: &str = ACTIONS[0];
/// A rare word: in events 0, 40,000, 80,000, ... (25 of a million).
pub const RARE_WORD: &str = "needle0";
/// Part of a word, not a word: inside `ZeroDivisionError`.
pub const SUBSTRING: &str = "ivisionErr";
/// In no event.
pub const ABSENT_WORD: &str = "quokkaabsent";

/// The event id and exception the captured fixture carries, replaced in each copy.
const FIXTURE_EVENT_ID: &str = "dd52e5d2fcb7424ead216d7d659c8280";
const FIXTURE_EXCEPTION: &str =
    r#""type":"ValueError","value":"python error understudy-marker-7f3c""#;

/// The fixture, split where each copy differs.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The envelope header line, with its newline.
    header: String,
    /// The event payload.
    payload: String,
}

impl Corpus {
    pub fn new() -> Self {
        let mut text = String::new();
        flate2::read::GzDecoder::new(PYTHON_ERROR_ENVELOPE_GZ)
            .read_to_string(&mut text)
            .expect("the fixture is gzipped UTF-8");
        let mut lines = text.splitn(3, '\n');
        let (Some(header), Some(_item_header), Some(payload)) =
            (lines.next(), lines.next(), lines.next())
        else {
            panic!("the fixture is an envelope of one item");
        };
        let payload = payload.trim_end_matches('\n');
        assert!(payload.contains(FIXTURE_EXCEPTION) && payload.contains(FIXTURE_EVENT_ID));
        Self {
            header: format!("{header}\n"),
            payload: payload.to_string(),
        }
    }

    /// Envelope `n` as the SDK would send it: gzipped (at flate2's default level; the SDK's
    /// zlib level 9 makes the fixture 1 byte smaller).
    pub fn body(&self, n: u64) -> Vec<u8> {
        let envelope = self.envelope(n);
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(envelope.len() / 2),
            flate2::Compression::default(),
        );
        encoder
            .write_all(envelope.as_bytes())
            .and_then(|()| encoder.finish())
            .expect("gzip into memory")
    }

    /// Envelope `n`, uncompressed.
    pub fn envelope(&self, n: u64) -> String {
        let id = event_id(n as usize);
        let exception = format!(r#""type":"{}","value":"{}""#, exception_type(n), message(n));
        let payload = self
            .payload
            .replacen(FIXTURE_EXCEPTION, &exception, 1)
            .replacen(FIXTURE_EVENT_ID, &id, 1);
        // The item header says how long the payload is, which the message changed.
        format!(
            "{}{{\"type\":\"event\",\"content_type\":\"application/json\",\"length\":{}}}\n{payload}\n",
            self.header.replacen(FIXTURE_EVENT_ID, &id, 1),
            payload.len()
        )
    }
}

impl Default for Corpus {
    fn default() -> Self {
        Self::new()
    }
}

/// SplitMix64's finalizer: event `n`'s words, spread evenly and without a pattern across `n`.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn exception_type(n: u64) -> &'static str {
    EXCEPTION_TYPES[(mix(n) >> 16) as usize % EXCEPTION_TYPES.len()]
}

/// Event `n`'s message: `<action> <thing> failed for job <n>`, and a rare word in every
/// [`RARE_EVERY`]th.
pub fn message(n: u64) -> String {
    let hash = mix(n);
    let action = ACTIONS[hash as usize % ACTIONS.len()];
    let thing = THINGS[(hash >> 8) as usize % THINGS.len()];
    let mut message = format!("{action} {thing} failed for job {n}");
    if n.is_multiple_of(RARE_EVERY) {
        message.push_str(&format!(" needle{}", (n / RARE_EVERY) % RARE_WORDS));
    }
    message
}

/// How many of events `0..count` contain `RARE_WORD`.
pub fn rare_word_events(count: u64) -> u64 {
    count.div_ceil(RARE_EVERY * RARE_WORDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use fake_sentry::config::Limits;
    use fake_sentry::ingest_envelope;

    fn ingest(body: Vec<u8>) -> fake_sentry::Ingested {
        let request = crate::sentry_ingest::gzip_envelope_request(Bytes::from(body));
        ingest_envelope(&request, &Limits::default(), &[]).expect("the body ingests")
    }

    /// Each envelope parses (its length header matches its payload), with its own id and the
    /// summary its exception makes.
    #[test]
    fn every_envelope_ingests_with_its_own_id_and_message() {
        let corpus = Corpus::new();
        for n in [0, 1, 2, 40_000, 123_456] {
            let ingested = ingest(corpus.body(n));
            let item = &ingested.envelope.items[0];
            assert_eq!(item.meta.decode_error, None);
            assert_eq!(ingested.event_id, Some(event_id(n as usize)));
            assert_eq!(
                item.meta.summary,
                format!("{}: {}", exception_type(n), message(n))
            );
        }
    }

    /// The searched words occur as documented, and only where the corpus put them.
    #[test]
    fn words_occur_at_their_frequencies() {
        let corpus = Corpus::new();
        assert!(!corpus.payload.to_lowercase().contains(COMMON_WORD));
        for word in [RARE_WORD, SUBSTRING, ABSENT_WORD] {
            assert!(!corpus.envelope(1).contains(word), "{word}");
        }
        let count = 80_001;
        let with = |word: &str| {
            (0..count)
                .filter(|&n| format!("{}: {}", exception_type(n), message(n)).contains(word))
                .count() as u64
        };
        assert_eq!(with(RARE_WORD), rare_word_events(count));
        assert_eq!(with(RARE_WORD), 3);
        assert_eq!(with(ABSENT_WORD), 0);
        let share = |word| with(word) as f64 / count as f64;
        assert!((0.11..0.14).contains(&share(COMMON_WORD)));
        assert!((0.13..0.16).contains(&share(SUBSTRING)));
        assert!(corpus.envelope(0).contains(RARE_WORD));
    }
}
