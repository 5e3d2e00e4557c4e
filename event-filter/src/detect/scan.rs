//! What every scanner shares: the [`Sink`] that collects hits, the final [`normalize`] pass,
//! the scan of one regex ([`scan_regex`], for custom detectors and Relay's identifiers), and
//! byte-level search and base64 helpers.

use regex::Regex;

use super::Hit;

/// Where scanners put their hits.
pub(super) struct Sink<'a> {
    pub(super) hits: &'a mut Vec<Hit>,
    pub(super) first_only: bool,
}

impl Sink<'_> {
    /// Records a hit; returns whether scanning should go on.
    pub(super) fn push(&mut self, start: usize, end: usize) -> bool {
        self.push_hit(Hit {
            start,
            end,
            rule: None,
        })
    }

    /// Records a hit of secret rule `rule`; returns whether scanning should go on.
    pub(super) fn push_rule(&mut self, start: usize, end: usize, rule: u16) -> bool {
        self.push_hit(Hit {
            start,
            end,
            rule: Some(rule),
        })
    }

    fn push_hit(&mut self, hit: Hit) -> bool {
        if hit.start < hit.end {
            self.hits.push(hit);
        }
        !self.first_only || self.hits.is_empty()
    }
}

/// Hits of `regex` in `text`: whole matches, or capture group 1 with `group`.
pub(super) fn scan_regex(regex: &Regex, group: bool, text: &str, sink: &mut Sink) {
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

/// Sorts hits and drops any that are empty, off char boundaries or overlap an earlier one.
/// Scanners already produce clean output; this is the guarantee, not the mechanism.
pub(super) fn normalize(text: &str, hits: &mut Vec<Hit>) {
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
pub(super) fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// Byte before `i`, or 0 at the start.
#[inline]
pub(super) fn before(b: &[u8], i: usize) -> u8 {
    match i.checked_sub(1) {
        Some(j) => at(b, j),
        None => 0,
    }
}

#[inline]
pub(super) fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Position of the ASCII byte `needle` in `text` at or after `from`.
#[inline]
pub(super) fn find_char(text: &str, from: usize, needle: char) -> Option<usize> {
    // `str::find(char)` is the standard library's word-at-a-time memchr.
    let from = text.ceil_char_boundary(from);
    text.get(from..)?.find(needle).map(|p| p + from)
}

/// Position of `needle` in `text` at or after `from`.
#[inline]
pub(super) fn find_str(text: &str, from: usize, needle: &str) -> Option<usize> {
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
pub(super) fn find_ci(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
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
pub(super) fn find_window4(
    b: &[u8],
    from: usize,
    pred: impl Fn(u8, u8, u8, u8) -> bool,
) -> Option<usize> {
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
pub(super) fn has_digits(b: &[u8], n: u32) -> bool {
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
pub(super) fn b64_decode(input: &[u8], url: bool) -> Option<Vec<u8>> {
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
