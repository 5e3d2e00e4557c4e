//! Credentials in headers and URLs: `bearer_token`, `basic_auth`, `jwt` and `url_password`.

use super::scan::{Sink, at, b64_decode, before, find_ci, find_str, is_word};

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

pub(super) fn scan_bearer(text: &str, sink: &mut Sink) {
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

pub(super) fn scan_basic(text: &str, sink: &mut Sink) {
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

pub(super) fn scan_jwt(text: &str, sink: &mut Sink) {
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

pub(super) fn scan_url_password(text: &str, sink: &mut Sink) {
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
