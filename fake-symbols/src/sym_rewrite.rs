//! Streaming rewrites of a sym file's bytes, as [`Read`] adapters: the corruptions of
//! [`crate::faults::Corruption`] and truncation. Both work line by line with a bounded line
//! buffer, so they add no memory for huge files.

use std::io::{self, BufRead, Read};

use crate::faults::{Corruption, CutAt};

/// Lines longer than this pass through unmodified in pieces.
const MAX_LINE: u64 = 1024 * 1024;

/// Applies corruptions to a sym file line by line.
pub struct Corrupting<R> {
    inner: R,
    corruptions: Vec<Corruption>,
    out: Vec<u8>,
    pos: usize,
    line_no: u64,
    seen_inline_origin: bool,
    split_done: bool,
    /// FUNC address whose first line record should move before it.
    pending_line_shift: Option<u64>,
    line_shift_done: bool,
    eof: bool,
}

impl<R: BufRead> Corrupting<R> {
    pub fn new(inner: R, corruptions: Vec<Corruption>) -> Self {
        Self {
            inner,
            corruptions,
            out: Vec::new(),
            pos: 0,
            line_no: 0,
            seen_inline_origin: false,
            split_done: false,
            pending_line_shift: None,
            line_shift_done: false,
            eof: false,
        }
    }

    fn has(&self, c: Corruption) -> bool {
        self.corruptions.contains(&c)
    }

    fn next_line(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.pos = 0;
        let mut line = Vec::new();
        let n = (&mut self.inner)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        let newline = line.ends_with(b"\n");
        let Ok(text) = std::str::from_utf8(&line) else {
            self.out = line;
            return Ok(true);
        };
        let body = text.trim_end_matches(['\n', '\r']);
        let ending = &text[body.len()..];
        let mut rewritten: Option<String> = None;
        if self.line_no == 1 && self.has(Corruption::WrongModuleId) {
            let mut parts: Vec<&str> = body.splitn(5, ' ').collect();
            if parts.len() >= 4 && parts[0] == "MODULE" {
                let wrong = wrong_id(parts[3]);
                parts[3] = &wrong;
                rewritten = Some(parts.join(" "));
            }
        }
        if let Some(rest) = body.strip_prefix("INLINE_ORIGIN ") {
            self.seen_inline_origin = true;
            let id = rest.split(' ').next().unwrap_or("0");
            if self.has(Corruption::InlineOriginNoName) {
                rewritten = Some(format!("INLINE_ORIGIN {id}"));
            } else if self.has(Corruption::InlineOriginBlankName) {
                rewritten = Some(format!("INLINE_ORIGIN {id} "));
            }
        }
        let is_func = body.starts_with("FUNC ");
        if is_func && !self.seen_inline_origin {
            // A file without inline origins still gets one malformed record, so the
            // corruption always has its effect.
            self.seen_inline_origin = true;
            if self.has(Corruption::InlineOriginNoName) {
                self.out.extend_from_slice(b"INLINE_ORIGIN 4294967295\n");
            } else if self.has(Corruption::InlineOriginBlankName) {
                self.out.extend_from_slice(b"INLINE_ORIGIN 4294967295 \n");
            }
        }
        if is_func && !self.split_done && self.has(Corruption::NameSplitByNewline) {
            self.split_done = true;
            // FUNC [m] addr size param name: split the name in the middle.
            let fields: Vec<&str> = body.splitn(6, ' ').collect();
            let name_at = if fields.get(1) == Some(&"m") { 5 } else { 4 };
            let prefix_len: usize = fields[..name_at.min(fields.len())]
                .iter()
                .map(|f| f.len() + 1)
                .sum();
            if let (Some(head), Some(name)) = (body.get(..prefix_len), body.get(prefix_len..))
                && !name.is_empty()
            {
                let (first, rest) = split_name(name);
                rewritten = Some(format!("{head}{first}\n{rest}"));
            }
        }
        if is_func && !self.line_shift_done && self.has(Corruption::LineBeforeFunc) {
            let fields: Vec<&str> = body.split(' ').collect();
            let addr_at = if fields.get(1) == Some(&"m") { 2 } else { 1 };
            self.pending_line_shift = fields
                .get(addr_at)
                .and_then(|a| u64::from_str_radix(a, 16).ok())
                .filter(|a| *a >= 5);
        } else if let Some(func_addr) = self.pending_line_shift.take() {
            // The first line record after that FUNC: `addr size line file`.
            let fields: Vec<&str> = body.split(' ').collect();
            let parsed = (
                fields.first().and_then(|a| u64::from_str_radix(a, 16).ok()),
                fields.get(1).and_then(|s| u64::from_str_radix(s, 16).ok()),
            );
            if fields.len() == 4
                && let (Some(addr), Some(size)) = parsed
                && addr == func_addr
            {
                self.line_shift_done = true;
                // `func_addr >= 5`, so only the size can overflow: saturate it.
                rewritten = Some(format!(
                    "{:x} {:x} {} {}",
                    addr - 5,
                    size.saturating_add(5),
                    fields[2],
                    fields[3]
                ));
            } else {
                self.pending_line_shift = None;
            }
        }
        match rewritten {
            Some(text) => {
                self.out.extend_from_slice(text.as_bytes());
                self.out.extend_from_slice(ending.as_bytes());
            }
            None => self.out.extend_from_slice(&line),
        }
        if !newline {
            // A long line continues in the next piece; only whole lines are rewritten.
            self.line_no = self.line_no.max(2);
        }
        Ok(true)
    }
}

/// Splits a non-empty name on a char boundary at or after its middle (or the last one before
/// it), leaving at least one char before the cut (a one-char name is split after it). Never slices inside a multi-byte char.
pub fn split_name(name: &str) -> (&str, &str) {
    let half = name.len() / 2;
    // Char starts after the first char: the first at or past the middle, else the last one.
    let mut starts = name.char_indices().map(|(i, _)| i).skip(1);
    let mut last = None;
    let cut = starts
        .find(|&i| {
            last = Some(i);
            i >= half
        })
        .or(last)
        .unwrap_or(name.len());
    name.split_at(cut)
}

/// A debug id of the same length that is certainly different.
fn wrong_id(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '0' => '1',
            _ => '0',
        })
        .collect()
}

impl<R: BufRead> Read for Corrupting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.eof || !self.next_line()? {
                self.eof = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Ends the stream after about `limit` bytes, either just after a newline or inside a line,
/// and then either ends cleanly or fails (which aborts the HTTP response).
pub struct Truncating<R> {
    inner: R,
    limit: u64,
    at: CutAt,
    abort: bool,
    sent: u64,
    last_byte: Option<u8>,
    done: bool,
}

impl<R: Read> Truncating<R> {
    pub fn new(inner: R, limit: u64, at: CutAt, abort: bool) -> Self {
        Self {
            inner,
            limit,
            at,
            abort,
            sent: 0,
            last_byte: None,
            done: false,
        }
    }

    fn finish(&mut self) -> io::Result<usize> {
        self.done = true;
        if self.abort {
            Err(io::Error::other("injected fault: body truncated"))
        } else {
            Ok(0)
        }
    }
}

impl<R: Read> Read for Truncating<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if self.sent < self.limit {
            let want = buf.len().min((self.limit - self.sent) as usize);
            let n = self.inner.read(&mut buf[..want])?;
            if n == 0 {
                // Shorter than the cut: nothing to truncate.
                self.done = true;
                return Ok(0);
            }
            self.sent += n as u64;
            self.last_byte = Some(buf[n - 1]);
            return Ok(n);
        }
        // At the cut: extend by single bytes until the cut lands where it should.
        let boundary_ok = match self.at {
            CutAt::LineBoundary => self.last_byte.is_none_or(|b| b == b'\n'),
            CutAt::MidLine => self.last_byte.is_some_and(|b| b != b'\n'),
        };
        if boundary_ok {
            return self.finish();
        }
        let n = self.inner.read(&mut buf[..1])?;
        if n == 0 {
            self.done = true;
            return Ok(0);
        }
        self.sent += 1;
        self.last_byte = Some(buf[0]);
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYM: &str = "MODULE Linux x86_64 ABCD0 libfoo.so\nFILE 0 a.c\nINLINE_ORIGIN 0 foo::helper\nFUNC 1000 40 0 foo::crash_here\n1000 8 40 0\n1008 38 41 0\n";

    fn corrupt(c: Corruption) -> String {
        let mut out = String::new();
        Corrupting::new(SYM.as_bytes(), vec![c])
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn corruptions_rewrite_the_right_records() {
        assert!(
            corrupt(Corruption::WrongModuleId).starts_with("MODULE Linux x86_64 00001 libfoo.so\n")
        );
        assert!(corrupt(Corruption::InlineOriginNoName).contains("\nINLINE_ORIGIN 0\nFUNC"));
        assert!(corrupt(Corruption::InlineOriginBlankName).contains("\nINLINE_ORIGIN 0 \nFUNC"));
        assert!(
            corrupt(Corruption::NameSplitByNewline).contains("FUNC 1000 40 0 foo::cr\nash_here\n")
        );
        assert!(
            corrupt(Corruption::LineBeforeFunc)
                .contains("FUNC 1000 40 0 foo::crash_here\nffb d 40 0\n1008")
        );
    }

    #[test]
    fn truncation_cuts_where_asked() {
        let cut = |at, abort| {
            let mut out = Vec::new();
            let r = Truncating::new(SYM.as_bytes(), 20, at, abort).read_to_end(&mut out);
            (String::from_utf8(out).unwrap(), r.is_err())
        };
        let (text, failed) = cut(CutAt::LineBoundary, false);
        assert_eq!(text, "MODULE Linux x86_64 ABCD0 libfoo.so\n");
        assert!(!failed);
        let (text, failed) = cut(CutAt::MidLine, true);
        assert_eq!(text.len(), 20);
        assert!(failed);
    }

    #[test]
    fn a_multi_byte_func_name_is_split_on_a_char_boundary() {
        for name in ["中", "é", "a中", "中文名字", "ünïcödé::fn", "x"] {
            let sym = format!("MODULE Linux x86_64 ABCD0 libfoo.so\nFUNC 1000 40 0 {name}\n");
            let mut out = String::new();
            Corrupting::new(sym.as_bytes(), vec![Corruption::NameSplitByNewline])
                .read_to_string(&mut out)
                .unwrap();
            let func = out.lines().nth(1).unwrap();
            let rest = out.lines().nth(2).unwrap_or_default();
            assert_eq!(
                format!("{func}{rest}"),
                format!("FUNC 1000 40 0 {name}"),
                "{name}"
            );
            assert!(func.len() > "FUNC 1000 40 0 ".len(), "{name}: {out:?}");
        }
        assert_eq!(split_name("中"), ("中", ""));
        assert_eq!(split_name("ab"), ("a", "b"));
        assert_eq!(split_name("a中"), ("a", "中"));
    }

    #[test]
    fn a_line_record_with_the_largest_size_does_not_overflow() {
        let sym =
            "MODULE Linux x86_64 ABCD0 libfoo.so\nFUNC 1000 40 0 f\n1000 ffffffffffffffff 1 0\n";
        let mut out = String::new();
        Corrupting::new(sym.as_bytes(), vec![Corruption::LineBeforeFunc])
            .read_to_string(&mut out)
            .unwrap();
        assert!(out.contains("\nffb ffffffffffffffff 1 0\n"), "{out}");
    }
}
