//! The one-pass byte statistics [`find_all`](super::find_all) gathers before running any
//! detector, and the per-detector gates that skip a detector whose necessary bytes are absent.

use super::DetectorKind;

/// What [`find_all`] knows about a text after one pass: how many bytes of eight classes it
/// has (saturating at 255, more than any gate asks) and which of 32 others occur.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stats {
    /// Eight 8-bit counters, lane `k` at bits `8k..8k+8`, in `L_*` order.
    counts: u64,
    /// Presence bits: `a`–`z` case-folded (see [`letters`]), then the `P_*` bits.
    pub(super) present: u64,
}

pub(super) const L_DIGIT: usize = 0;
pub(super) const L_DOT: usize = 1;
pub(super) const L_COLON: usize = 2;
const L_DASH: usize = 3;
pub(super) const L_UPPER: usize = 4;
const L_AT: usize = 5;
const L_UNDERSCORE: usize = 6;
const L_SPACE: usize = 7;

pub(super) const P_CAP_A: u64 = 1 << 26;
pub(super) const P_CAP_I: u64 = 1 << 27;
pub(super) const P_CAP_J: u64 = 1 << 28;
pub(super) const P_LOWER_Z: u64 = 1 << 29;
pub(super) const P_SLASH: u64 = 1 << 30;

/// Presence bits of the ASCII letters of `word`, case-folded.
pub(super) const fn letters(word: &[u8]) -> u64 {
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
pub(super) fn add_saturating_lanes(a: u64, b: u64) -> u64 {
    let low = !HIGH_BITS;
    let sum = ((a & low) + (b & low)) ^ ((a ^ b) & HIGH_BITS);
    let carry = ((a & b) | ((a | b) & !sum)) & HIGH_BITS;
    sum | ((carry >> 7) * 0xff)
}

/// A necessary condition for a detector to match: at least `min[k]` bytes of class `k`
/// (each below 128) and every `present` bit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gate {
    min: u64,
    present: u64,
}

impl Gate {
    pub(super) const ALWAYS: Gate = Gate { min: 0, present: 0 };
    /// Asks for presence bits no byte sets.
    pub(super) const NEVER: Gate = Gate {
        min: 0,
        present: u64::MAX,
    };

    /// `min` per lane in `L_*` order.
    pub(super) const fn new(min: [u8; 8], present: u64) -> Gate {
        Gate {
            min: u64::from_le_bytes(min),
            present,
        }
    }

    /// The presence bits first: they are the cheaper test and the one most texts fail
    /// (short ones lack the letters, and [`Gate::NEVER`] fails it outright), so the counts
    /// are rarely computed. A lane passes if its count's low seven bits reach the minimum
    /// (no borrow into the lane's high bit) or the count is 128 or more.
    #[inline]
    pub(super) fn admits(self, s: &Stats) -> bool {
        s.present & self.present == self.present
            && (((s.counts | HIGH_BITS) - self.min) | s.counts) & HIGH_BITS == HIGH_BITS
    }
}

/// Per-lane minimums from `(lane, count)` pairs.
pub(super) const fn at_least(pairs: &[(usize, u8)]) -> [u8; 8] {
    let mut min = [0u8; 8];
    let mut i = 0;
    while i < pairs.len() {
        min[pairs[i].0] = pairs[i].1;
        i += 1;
    }
    min
}

/// The gates of a built-in kind: bytes that every one of its hits needs.
pub(super) fn gates(kind: DetectorKind) -> [Gate; 2] {
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
        // Two dashes and nine ASCII digits (`[0-9]`, not Unicode `\d`).
        DetectorKind::UsSsn => one(&[(L_DIGIT, 9), (L_DASH, 2)], 0),
        // The other identifier regexes match Unicode digits or mixed separators, which the
        // byte counts do not see: always run.
        DetectorKind::Mac
        | DetectorKind::Uuid
        | DetectorKind::Imei
        | DetectorKind::UserPath
        | DetectorKind::Secret
        | DetectorKind::Custom => [Gate::ALWAYS, Gate::ALWAYS],
    }
}

impl Stats {
    /// Stats that let every detector run.
    pub(super) const ALL: Stats = Stats {
        counts: u64::MAX,
        present: u64::MAX,
    };

    pub(super) fn of(b: &[u8]) -> Stats {
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
    pub(super) fn n(&self, lane: usize) -> u32 {
        ((self.counts >> (8 * (lane % 8))) & 0xff) as u32
    }
}
