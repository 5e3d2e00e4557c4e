//! Sizes as flags spell them, with one meaning in every service.

use std::fmt;
use std::str::FromStr;

/// A byte count read from a flag or an environment variable: a whole number with an optional
/// unit. `KiB`, `MiB`, `GiB` (and the bare letters `k`, `m`, `g`, as in `-Xmx` and `du`) are
/// powers of 1024; `KB`, `MB`, `GB` are powers of 1000, as their SI names say. Units ignore
/// case and may follow a space; `B` or no unit means bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByteSizeError {
    #[error("invalid size {0:?}: expected a whole number with an optional unit (512, 4KiB, 10MB)")]
    Number(String),
    #[error("invalid size unit in {0:?}: use B, KiB, MiB, GiB (or k, m, g), KB, MB or GB")]
    Unit(String),
    #[error("size {0:?} is too large")]
    TooLarge(String),
}

impl ByteSize {
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// The size as a `usize`, saturating on targets where it does not fit.
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl FromStr for ByteSize {
    type Err = ByteSizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| ByteSizeError::Number(text.to_string()))?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            _ => return Err(ByteSizeError::Unit(text.to_string())),
        };
        number
            .checked_mul(multiplier)
            .map(ByteSize)
            .ok_or_else(|| ByteSizeError::TooLarge(text.to_string()))
    }
}

impl fmt::Display for ByteSize {
    /// The shortest exact spelling: `4KiB`, `10MB`, `1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 6] = [
            (1 << 30, "GiB"),
            (1_000_000_000, "GB"),
            (1 << 20, "MiB"),
            (1_000_000, "MB"),
            (1 << 10, "KiB"),
            (1_000, "KB"),
        ];
        match UNITS
            .iter()
            .find(|(unit, _)| self.0 != 0 && self.0.is_multiple_of(*unit))
        {
            Some((unit, name)) => write!(f, "{}{name}", self.0 / unit),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<u64, ByteSizeError> {
        text.parse::<ByteSize>().map(ByteSize::bytes)
    }

    #[test]
    fn binary_and_decimal_units_mean_what_their_names_say() {
        assert_eq!(parse("512"), Ok(512));
        assert_eq!(parse("512B"), Ok(512));
        assert_eq!(parse("4KiB"), Ok(4096));
        assert_eq!(parse("4 kib"), Ok(4096));
        assert_eq!(parse("2m"), Ok(2 << 20));
        assert_eq!(parse("2MiB"), Ok(2 << 20));
        assert_eq!(parse("2MB"), Ok(2_000_000));
        assert_eq!(parse("3gb"), Ok(3_000_000_000));
        assert_eq!(parse("1GiB"), Ok(1 << 30));
    }

    #[test]
    fn nonsense_is_refused_with_the_reason() {
        assert!(matches!(parse("1.5M"), Err(ByteSizeError::Unit(_))));
        assert!(matches!(parse("MiB"), Err(ByteSizeError::Number(_))));
        assert!(matches!(parse("-1"), Err(ByteSizeError::Number(_))));
        assert!(matches!(parse("10 parsecs"), Err(ByteSizeError::Unit(_))));
        assert!(matches!(
            parse("99999999999999GiB"),
            Err(ByteSizeError::TooLarge(_))
        ));
    }

    #[test]
    fn display_reads_back_as_the_same_size() {
        for size in [0, 1, 1000, 1024, 4096, 2_000_000, 1 << 20, 1 << 30, 1234567] {
            let shown = ByteSize(size).to_string();
            assert_eq!(parse(&shown), Ok(size), "{shown}");
        }
        assert_eq!(ByteSize(4096).to_string(), "4KiB");
        assert_eq!(ByteSize(10_000_000).to_string(), "10MB");
    }
}
