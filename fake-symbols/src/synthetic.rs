//! Huge synthetic `.sym` files, generated on the fly as a [`Read`]: never held in memory or
//! written to disk, so a 700 MB xul-like module costs one small buffer.
//!
//! The content is valid for rust-minidump's parser and deterministic: function `i` starts at
//! [`function_address`]`(i)`, is 0x100 bytes long, is named [`function_name`]`(i)`, has four
//! line records and one inline call (origin `i % ORIGINS`) covering `+0x40..+0x80`.

use std::io::{self, Read, Write};

/// Files and inline origins declared up front.
pub const FILES: u32 = 64;
pub const ORIGINS: u32 = 64;
/// Address of function 0.
pub const FIRST_FUNCTION: u64 = 0x1000;
/// Size of each function.
pub const FUNCTION_SIZE: u64 = 0x100;

pub fn function_address(i: u64) -> u64 {
    FIRST_FUNCTION + i * FUNCTION_SIZE
}

pub fn function_name(i: u64) -> String {
    format!(
        "synthetic::module_{}::function_{i}(int, char const*)",
        i % 97
    )
}

pub fn origin_name(o: u32) -> String {
    format!("synthetic::inlined_helper_{o}")
}

pub fn file_name(f: u32) -> String {
    format!("/builds/synthetic/src/unit_{f}.cpp")
}

/// Source line of line record `r` (0..4) of function `i`.
pub fn line_number(i: u64, r: u64) -> u64 {
    10 + (i % 1000) * 4 + r
}

/// A generated sym file of at least `size` bytes (it ends after the function that crosses it).
pub struct SyntheticSym {
    debug_file: String,
    debug_id: String,
    size: u64,
    produced: u64,
    next_function: u64,
    header_done: bool,
    buf: Vec<u8>,
    pos: usize,
}

impl SyntheticSym {
    pub fn new(debug_file: &str, debug_id: &str, size: u64) -> Self {
        Self {
            debug_file: debug_file.to_string(),
            debug_id: debug_id.to_string(),
            size,
            produced: 0,
            next_function: 0,
            header_done: false,
            buf: Vec::with_capacity(128 * 1024),
            pos: 0,
        }
    }

    /// Refills the buffer with the next batch of records; false at the end.
    fn refill(&mut self) -> bool {
        self.buf.clear();
        self.pos = 0;
        if !self.header_done {
            self.header_done = true;
            let _ = writeln!(
                self.buf,
                "MODULE Linux x86_64 {} {}\nINFO CODE_ID {}\nINFO GENERATOR fake-symbols synthetic",
                self.debug_id,
                self.debug_file,
                self.debug_id.get(..32).unwrap_or(&self.debug_id)
            );
            for f in 0..FILES {
                let _ = writeln!(self.buf, "FILE {f} {}", file_name(f));
            }
            for o in 0..ORIGINS {
                let _ = writeln!(self.buf, "INLINE_ORIGIN {o} {}", origin_name(o));
            }
            self.produced += self.buf.len() as u64;
            return true;
        }
        if self.produced >= self.size {
            return false;
        }
        while self.buf.len() < 120 * 1024 && self.produced + (self.buf.len() as u64) < self.size {
            let i = self.next_function;
            self.next_function += 1;
            let a = function_address(i);
            let file = (i % FILES as u64) as u32;
            let _ = write!(
                self.buf,
                "FUNC {a:x} {FUNCTION_SIZE:x} 0 {}\nINLINE 0 {} {file} {} {:x} 40\n",
                function_name(i),
                line_number(i, 1),
                i % ORIGINS as u64,
                a + 0x40
            );
            for r in 0..4u64 {
                let _ = writeln!(
                    self.buf,
                    "{:x} 40 {} {file}",
                    a + r * 0x40,
                    line_number(i, r)
                );
            }
        }
        self.produced += self.buf.len() as u64;
        true
    }
}

impl Read for SyntheticSym {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.buf.len() && !self.refill() {
            return Ok(0);
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_symbolicates_as_documented() {
        let mut text = Vec::new();
        SyntheticSym::new("libxul.so", "ABCDEF0123456789ABCDEF01234567890", 200_000)
            .read_to_end(&mut text)
            .unwrap();
        assert!(
            text.len() >= 200_000 && text.len() < 330_000,
            "{}",
            text.len()
        );
        let sym = breakpad_symbols::SymbolFile::from_bytes(&text).unwrap();
        let func = sym.functions.get(function_address(17) + 0x50).unwrap();
        assert_eq!(func.name, function_name(17));
        assert_eq!(sym.inline_origins.get(&3).unwrap(), &origin_name(3));
    }
}
