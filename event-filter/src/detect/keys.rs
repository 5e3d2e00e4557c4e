//! Private keys and cloud or SaaS tokens: `pem_private_key`, `aws_access_key`, `gcp_api_key`,
//! `github_token` and `slack_token`.

use super::scan::{Sink, at, before, find_ci, find_str, find_window4, is_word};

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

pub(super) fn scan_pem(text: &str, sink: &mut Sink) {
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

pub(super) fn scan_aws(text: &str, sink: &mut Sink) {
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

pub(super) fn scan_gcp(text: &str, sink: &mut Sink) {
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

pub(super) fn scan_github(text: &str, sink: &mut Sink) {
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

pub(super) fn scan_slack(text: &str, sink: &mut Sink) {
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
