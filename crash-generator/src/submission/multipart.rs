//! The parts of a `multipart/form-data` (or `multipart/mixed`) body, found one at a time and
//! borrowed from the body, each checked against [`SubmissionLimits`] as it is found.

use super::parse::{SubmissionError, SubmissionLimits};

/// One part of a multipart body, borrowed from it.
pub(super) struct Part<'a> {
    pub(super) name: &'a [u8],
    pub(super) file_name: Option<&'a [u8]>,
    pub(super) content_type: Option<&'a [u8]>,
    pub(super) data: &'a [u8],
}

/// The parts of a multipart body, one at a time, each checked against the limits as it is
/// found.
pub(super) struct Parts<'a> {
    data: &'a [u8],
    /// `\r\n--boundary`: what ends a part.
    delimiter: Vec<u8>,
    limits: &'a SubmissionLimits,
    /// Just past a `--boundary`, or `None` once finished.
    at: Option<usize>,
    count: usize,
    started: bool,
}

impl<'a> Parts<'a> {
    pub(super) fn new(data: &'a [u8], boundary: &[u8], limits: &'a SubmissionLimits) -> Self {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary);
        Self {
            data,
            delimiter,
            limits,
            at: Some(0),
            count: 0,
            started: false,
        }
    }

    /// Moves just past the first `--boundary` (at the start, or after a preamble line).
    fn start(&mut self) -> Result<usize, SubmissionError> {
        let dash_boundary = &self.delimiter[2..];
        if self.data.starts_with(dash_boundary) {
            return Ok(dash_boundary.len());
        }
        memchr::memmem::find(self.data, &self.delimiter)
            .map(|i| i + self.delimiter.len())
            .ok_or(SubmissionError::InvalidPayloadStructure(
                "the boundary never occurs",
            ))
    }

    fn next_part(&mut self, mut at: usize) -> Result<Option<(Part<'a>, usize)>, SubmissionError> {
        let data = self.data;
        if data[at..].starts_with(b"--") {
            // The close delimiter; an epilogue may follow and is ignored.
            if self.count == 0 {
                return Err(SubmissionError::InvalidPayloadStructure("no parts"));
            }
            return Ok(None);
        }
        while matches!(data.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        if !data[at..].starts_with(b"\r\n") {
            return Err(SubmissionError::InvalidPayloadStructure(
                "junk after a boundary",
            ));
        }
        at += 2;
        self.count += 1;
        if self.count > self.limits.max_parts {
            return Err(SubmissionError::TooManyParts {
                limit: self.limits.max_parts,
            });
        }
        // The header block ends at an empty line; look no further than the limit allows.
        let (headers, body_start) = if data[at..].starts_with(b"\r\n") {
            (&data[at..at], at + 2)
        } else {
            let window_end = data.len().min(at + self.limits.max_part_header + 4);
            match memchr::memmem::find(&data[at..window_end], b"\r\n\r\n") {
                Some(i) if i <= self.limits.max_part_header => (&data[at..at + i], at + i + 4),
                Some(_) => {
                    return Err(SubmissionError::PartHeaderTooLarge {
                        limit: self.limits.max_part_header,
                    });
                }
                None if window_end < data.len() => {
                    return Err(SubmissionError::PartHeaderTooLarge {
                        limit: self.limits.max_part_header,
                    });
                }
                None => {
                    return Err(SubmissionError::InvalidPayloadStructure(
                        "a part's headers never end",
                    ));
                }
            }
        };
        let end = memchr::memmem::find(&data[body_start..], &self.delimiter)
            .map(|i| body_start + i)
            .ok_or(SubmissionError::InvalidPayloadStructure(
                "a part is never closed",
            ))?;
        let mut part = Part {
            name: b"",
            file_name: None,
            content_type: None,
            data: &data[body_start..end],
        };
        for line in headers.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (key, value) = (trim(&line[..colon]), trim(&line[colon + 1..]));
            if key.eq_ignore_ascii_case(b"content-disposition") {
                for (param, value) in disposition_params(value) {
                    if param.eq_ignore_ascii_case(b"name") {
                        part.name = value;
                    } else if param.eq_ignore_ascii_case(b"filename") {
                        part.file_name = Some(value);
                    }
                }
            } else if key.eq_ignore_ascii_case(b"content-type") {
                part.content_type = Some(value);
            }
        }
        Ok(Some((part, end + self.delimiter.len())))
    }
}

impl<'a> Iterator for Parts<'a> {
    type Item = Result<Part<'a>, SubmissionError>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.at.take()?;
        let at = if self.started {
            at
        } else {
            self.started = true;
            match self.start() {
                Ok(at) => at,
                Err(e) => return Some(Err(e)),
            }
        };
        match self.next_part(at) {
            Ok(Some((part, next))) => {
                self.at = Some(next);
                Some(Ok(part))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// The `key=value` parameters of a `Content-Disposition` value (`form-data; name="a";
/// filename="b"`). Quoted values are returned without their quotes; a backslash escape is
/// kept as written (Antenna's clients never need one in a part name).
fn disposition_params(value: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut params = Vec::new();
    let mut at = match value.iter().position(|&b| b == b';') {
        Some(i) => i + 1,
        None => return params,
    };
    while at < value.len() {
        while matches!(value.get(at), Some(b' ' | b'\t' | b';')) {
            at += 1;
        }
        let key_start = at;
        while at < value.len() && !matches!(value[at], b'=' | b';') {
            at += 1;
        }
        let key = trim(&value[key_start..at]);
        if value.get(at) != Some(&b'=') {
            continue;
        }
        at += 1;
        while matches!(value.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        let found = if value.get(at) == Some(&b'"') {
            at += 1;
            let start = at;
            while at < value.len() && value[at] != b'"' {
                at += if value[at] == b'\\' { 2 } else { 1 };
            }
            let end = at.min(value.len());
            at = end + 1;
            &value[start..end]
        } else {
            let start = at;
            while at < value.len() && value[at] != b';' {
                at += 1;
            }
            trim(&value[start..at])
        };
        params.push((key, found));
    }
    params
}
