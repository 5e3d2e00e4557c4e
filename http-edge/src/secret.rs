//! Comparing secrets without telling an attacker how much of a guess was right.

use subtle::ConstantTimeEq;

/// Whether `given` equals `expected`, in time that depends only on their lengths, so that a
/// client timing the answers cannot find a token one byte at a time.
pub fn secret_eq(given: &[u8], expected: &[u8]) -> bool {
    given.ct_eq(expected).into()
}

#[cfg(test)]
mod tests {
    use super::secret_eq;

    #[test]
    fn equal_only_when_every_byte_and_the_length_match() {
        assert!(secret_eq(b"localdevtoken", b"localdevtoken"));
        assert!(!secret_eq(b"localdevtokeN", b"localdevtoken"));
        assert!(!secret_eq(b"localdev", b"localdevtoken"));
        assert!(!secret_eq(b"", b"localdevtoken"));
        assert!(secret_eq(b"", b""));
    }
}
