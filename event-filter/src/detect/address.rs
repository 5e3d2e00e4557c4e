//! Personal addresses: `email`, `ipv4` and `ipv6`.

use super::scan::{Sink, at, before, find_char, has_digits, is_word};
use std::net::Ipv6Addr;

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

pub(super) fn scan_email(text: &str, sink: &mut Sink) {
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

/// Whether the dotted quad at `s` is a product version in a user agent (`Chrome/156.0.0.0`,
/// `Edg/120.0.0.0`: Chromium's reduced user agents end every version in `.0.0.0`): right after
/// a `/` that ends a word of letters and digits standing at the start or after a space or `(`.
/// A path segment (`/hosts/10.0.0.1`) does not stand after a space, so it is still an address.
fn is_product_version(b: &[u8], s: usize) -> bool {
    if s < 2 || b[s - 1] != b'/' {
        return false;
    }
    let mut k = s - 1;
    while k > 0 && b[k - 1].is_ascii_alphanumeric() {
        k -= 1;
    }
    k < s - 1 && b[k].is_ascii_alphabetic() && (k == 0 || matches!(b[k - 1], b' ' | b'('))
}

pub(super) fn scan_ipv4(text: &str, sink: &mut Sink) {
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
        if parse_ipv4(&b[s..e])
            && !preceded_by_version(b, s)
            && !is_product_version(b, s)
            && !sink.push(s, e)
        {
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

pub(super) fn scan_ipv6(text: &str, sink: &mut Sink) {
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
