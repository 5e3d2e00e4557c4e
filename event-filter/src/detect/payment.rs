//! Payment data: `credit_card` (Luhn and issuer ranges) and `iban` (country lengths, mod-97).

use super::scan::{Sink, at, before, find_window4, has_digits, is_word};

// ---------------------------------------------------------------------------------------
// Payment cards

pub(super) fn luhn(d: &[u8]) -> bool {
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

pub(super) fn scan_card(text: &str, sink: &mut Sink) {
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

pub(super) fn iban_mod97(chars: &[u8]) -> bool {
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

pub(super) fn scan_iban(text: &str, sink: &mut Sink) {
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
