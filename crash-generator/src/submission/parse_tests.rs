//! Unit tests of the submission parser: Antenna's rules and every limit. (What `build` writes
//! reading back in every encoding is tests/submission.rs.)

use super::*;

const CT: &str = "multipart/form-data; boundary=b0undary";

fn parse(body: &[u8], limits: &SubmissionLimits) -> Result<ParsedSubmission, SubmissionError> {
    parse_request(Some(CT), None, body, limits)
}

fn field(name: &str, value: &[u8]) -> Vec<u8> {
    let mut part = format!("--b0undary\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
        .into_bytes();
    part.extend_from_slice(value);
    part.extend_from_slice(b"\r\n");
    part
}

fn dump(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut part = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.dmp\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    part.extend_from_slice(bytes);
    part.extend_from_slice(b"\r\n");
    part
}

fn extra(json: &str) -> Vec<u8> {
    format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"extra\"; filename=\"extra.json\"\r\nContent-Type: application/json\r\n\r\n{json}\r\n"
    )
    .into_bytes()
}

fn body(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = parts.concat();
    body.extend_from_slice(b"--b0undary--\r\n");
    body
}

#[test]
fn antenna_refusals_keep_their_reasons() {
    let limits = SubmissionLimits::default();
    let ok = body(&[field("ProductName", b"Firefox")]);
    let reason = |ct: Option<&str>, ce: Option<&str>, body: &[u8]| {
        parse_request(ct, ce, body, &limits).unwrap_err().reason()
    };
    assert_eq!(reason(None, None, &ok), "no_content_type");
    assert_eq!(reason(Some("text/plain"), None, &ok), "wrong_content_type");
    assert_eq!(
        reason(Some("multipart/form-data"), None, &ok),
        "no_boundary"
    );
    assert_eq!(reason(Some(CT), None, b""), "no_content_length");
    assert_eq!(reason(Some(CT), Some("gzip"), &ok), "bad_gzip");
    assert_eq!(reason(Some(CT), None, b"junk"), "invalid_payload_structure");
    assert_eq!(
        reason(Some(CT), None, &body(&[extra("{\"a\":")])),
        "invalid_json"
    );
    assert_eq!(
        reason(Some(CT), None, &body(&[extra("[1,2]")])),
        "invalid_json_value"
    );
    assert_eq!(
        reason(
            Some(CT),
            None,
            &body(&[dump("upload_file_minidump", b"MDMP")])
        ),
        "no_annotations"
    );
    assert_eq!(
        reason(
            Some(CT),
            None,
            &body(&[field("a", b"b"), dump("raw_crash", b"x")])
        ),
        "invalid_dump_name"
    );
    assert_eq!(
        reason(
            Some(CT),
            None,
            &body(&[field("a", b"b"), dump("-.-", b"x")])
        ),
        "invalid_dump_name"
    );
    let quoted = "multipart/mixed; charset=utf-8; boundary=\"b0undary\"";
    assert!(parse_request(Some(quoted), None, &ok, &limits).is_ok());
}

#[test]
fn body_and_decompressed_sizes_are_capped() {
    let limits = SubmissionLimits {
        max_body: 1000,
        max_decompressed: 4000,
        ..SubmissionLimits::default()
    };
    let big = body(&[field("a", &[b'x'; 2000])]);
    let err = parse(&big, &limits).unwrap_err();
    assert_eq!((err.status(), err.reason()), (413, "too_large"));
    // A gzip bomb: 100 MiB of zeros in about 100 KB stops one byte past the limit.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        std::io::Write::write_all(&mut encoder, &zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    let limits = SubmissionLimits {
        max_body: bomb.len(),
        ..limits
    };
    let err = parse_request(Some(CT), Some("gzip"), &bomb, &limits).unwrap_err();
    assert_eq!(err, SubmissionError::DecompressedTooLarge { limit: 4000 });
    assert_eq!(err.status(), 413);
}

#[test]
fn part_counts_stop_one_past_the_limit() {
    let limits = SubmissionLimits {
        max_parts: 10,
        max_annotations: 5,
        max_dumps: 2,
        ..SubmissionLimits::default()
    };
    let parts: Vec<Vec<u8>> = (0..11).map(|i| field(&format!("f{i}"), b"v")).collect();
    let many = SubmissionLimits {
        max_annotations: 100,
        ..limits
    };
    assert_eq!(
        parse(&body(&parts), &many).unwrap_err(),
        SubmissionError::TooManyParts { limit: 10 }
    );
    // The limit stops the walk: parts after the 11th are never looked at, even broken ones.
    let mut broken = body(&parts);
    broken.truncate(broken.len() - 20);
    assert_eq!(
        parse(&broken, &many).unwrap_err().reason(),
        "too_many_parts"
    );
    let parts: Vec<Vec<u8>> = (0..6).map(|i| field(&format!("f{i}"), b"v")).collect();
    assert_eq!(
        parse(&body(&parts), &limits).unwrap_err(),
        SubmissionError::TooManyAnnotations { limit: 5 }
    );
    let json = format!(
        "{{{}}}",
        (0..6)
            .map(|i| format!("\"k{i}\":\"v\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        parse(&body(&[extra(&json)]), &limits).unwrap_err(),
        SubmissionError::TooManyAnnotations { limit: 5 }
    );
    let dumps = [
        field("a", b"b"),
        dump("d1", b"1"),
        dump("d2", b"2"),
        dump("d3", b"3"),
    ];
    assert_eq!(
        parse(&body(&dumps), &limits).unwrap_err(),
        SubmissionError::TooManyDumps { limit: 2 }
    );
    assert!(parse(&body(&dumps[..3]), &limits).is_ok());
}

#[test]
fn part_headers_names_and_values_are_capped() {
    let limits = SubmissionLimits {
        max_part_header: 200,
        max_field_name: 16,
        max_field_value: 32,
        ..SubmissionLimits::default()
    };
    // Headers that never end within the limit, in a body far larger than it.
    let mut huge = b"--b0undary\r\nX-Padding: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 100_000));
    assert_eq!(
        parse(&huge, &limits).unwrap_err(),
        SubmissionError::PartHeaderTooLarge { limit: 200 }
    );
    let long_header = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Padding: {}\r\n\r\nv\r\n--b0undary--\r\n",
        "p".repeat(300)
    );
    assert_eq!(
        parse(long_header.as_bytes(), &limits).unwrap_err().reason(),
        "part_header_too_large"
    );
    assert_eq!(
        parse(&body(&[field(&"n".repeat(17), b"v")]), &limits).unwrap_err(),
        SubmissionError::FieldNameTooLong { limit: 16 }
    );
    assert_eq!(
        parse(&body(&[field("a", &[b'v'; 33])]), &limits).unwrap_err(),
        SubmissionError::FieldValueTooLong { limit: 32 }
    );
    let json = format!("{{\"a\":\"{}\"}}", "v".repeat(33));
    assert_eq!(
        parse(&body(&[extra(&json)]), &limits).unwrap_err(),
        SubmissionError::FieldValueTooLong { limit: 32 }
    );
    let json = format!("{{\"{}\":\"v\"}}", "k".repeat(17));
    assert_eq!(
        parse(&body(&[extra(&json)]), &limits).unwrap_err(),
        SubmissionError::FieldNameTooLong { limit: 16 }
    );
    assert!(parse(&body(&[field(&"n".repeat(16), &[b'v'; 32])]), &limits).is_ok());
    // Within the limit as bytes received, over it once invalid UTF-8 is replaced (3 bytes each).
    assert_eq!(
        parse(&body(&[field("a", &[0xff; 16])]), &limits).unwrap_err(),
        SubmissionError::FieldValueTooLong { limit: 32 }
    );
    let mut name = b"--b0undary\r\nContent-Disposition: form-data; name=\"".to_vec();
    name.extend_from_slice(&[0xff; 8]);
    name.extend_from_slice(b"\"\r\n\r\nv\r\n");
    assert_eq!(
        parse(&body(&[name]), &limits).unwrap_err(),
        SubmissionError::FieldNameTooLong { limit: 16 }
    );
}

#[test]
fn extra_json_depth_is_capped_before_parsing() {
    let limits = SubmissionLimits {
        max_json_depth: 4,
        ..SubmissionLimits::default()
    };
    let ok = r#"{"a":{"b":[{"c":1}]},"d":"e"}"#;
    let parsed = parse(&body(&[extra(ok)]), &limits).unwrap();
    assert_eq!(parsed.annotations["a"], r#"{"b":[{"c":1}]}"#);
    assert_eq!(parsed.annotations["d"], "e");
    let deep = r#"{"a":{"b":[{"c":[1]}]}}"#;
    assert_eq!(
        parse(&body(&[extra(deep)]), &limits).unwrap_err(),
        SubmissionError::JsonTooDeep { limit: 4 }
    );
    // Far deeper than serde_json's own recursion limit, and unterminated: the scan stops
    // at level 5 all the same.
    let bomb = format!("{{\"a\":{}", "[".repeat(1_000_000));
    assert_eq!(
        parse(&body(&[extra(&bomb)]), &limits).unwrap_err().reason(),
        "json_too_deep"
    );
    // Brackets inside strings are not nesting.
    let quoted = format!("{{\"a\":\"{}\\\"[\"}}", "[".repeat(100));
    assert!(parse(&body(&[extra(&quoted)]), &limits).is_ok());
}

#[test]
fn invalid_utf8_is_kept_with_a_note_and_notes_are_capped() {
    let limits = SubmissionLimits {
        max_notes: 3,
        ..SubmissionLimits::default()
    };
    let mut parts = vec![field("ProductName", b"Firefox")];
    for i in 0..5 {
        parts.push(field(&format!("bad{i}"), b"\xff\xfe"));
    }
    let mut odd_name =
        b"--b0undary\r\nContent-Disposition: form-data; name=\"n\xc3\x28\"\r\n\r\nv\r\n".to_vec();
    parts.push(std::mem::take(&mut odd_name));
    let parsed = parse(&body(&parts), &limits).unwrap();
    assert_eq!(parsed.annotations["bad0"], "\u{fffd}\u{fffd}");
    assert_eq!(parsed.annotations["n\u{fffd}("], "v");
    assert_eq!(
        parsed.notes,
        [
            "bad0 has non-utf-8 value",
            "bad1 has non-utf-8 value",
            "bad2 has non-utf-8 value",
            "and 3 more notes"
        ]
    );
    // Invalid UTF-8 in the extra JSON is invalid JSON.
    let mut bad_json = extra("{\"a\":\"b\"}");
    let at = bad_json.iter().rposition(|&b| b == b'b').unwrap();
    bad_json[at] = 0xff;
    assert_eq!(
        parse(&body(&[bad_json]), &limits).unwrap_err().reason(),
        "invalid_json"
    );
}

#[test]
fn errors_never_echo_the_input() {
    let limits = SubmissionLimits::default();
    let secret = "SECRET".repeat(1000);
    let cases = [
        body(&[extra(&format!("{{\"{secret}\":"))]),
        format!("--b0undary\r\n{secret}").into_bytes(),
        body(&[field("a", b"b"), dump("raw_crash", secret.as_bytes())]),
    ];
    for case in cases {
        let err = parse(&case, &limits).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

/// A budget of `cap` bytes for [`parse_request_charged`]: what it has charged so far, and a
/// refusal (with the bytes asked for) past the cap.
fn meter(
    cap: usize,
) -> (
    std::rc::Rc<std::cell::Cell<usize>>,
    impl FnMut(usize) -> Result<(), usize>,
) {
    let charged = std::rc::Rc::new(std::cell::Cell::new(0));
    let total = charged.clone();
    let charge = move |bytes: usize| {
        if total.get() + bytes > cap {
            return Err(bytes);
        }
        total.set(total.get() + bytes);
        Ok(())
    };
    (charged, charge)
}

#[test]
fn what_parsing_keeps_is_charged_before_it_is_kept() {
    const MIB: usize = 1 << 20;
    let plain = body(&[
        field("ProductName", b"Firefox"),
        dump("upload_file_minidump", &vec![7u8; 2 * MIB]),
    ]);
    let limits = SubmissionLimits {
        max_body: 4 * MIB,
        max_decompressed: 4 * MIB,
        ..SubmissionLimits::default()
    };
    // Uncompressed: the annotation and the dump copied out of the body, nothing else.
    let (charged, charge) = meter(64 * MIB);
    parse_request_charged(Some(CT), None, &plain, &limits, charge).unwrap();
    let kept = "ProductName".len() + "Firefox".len() + "upload_file_minidump".len() + 2 * MIB;
    assert_eq!(charged.get(), kept + 2 * ENTRY_OVERHEAD);

    // Gzipped: the gunzipped body too, as its buffer grows (never past the limit).
    let zipped = gzip(&plain);
    let (charged, charge) = meter(64 * MIB);
    parse_request_charged(Some(CT), Some("gzip"), &zipped, &limits, charge).unwrap();
    let gunzipped = charged.get() - kept - 2 * ENTRY_OVERHEAD;
    assert!(
        (plain.len()..=limits.max_decompressed).contains(&gunzipped),
        "gunzip charged {gunzipped} for {} bytes",
        plain.len()
    );

    // A budget with room for the gunzipped body but not the dump's copy: stops there, with
    // the charge's own error, having charged no more than the budget (the copy was never
    // made).
    let (charged, charge) = meter(5 * MIB);
    let err = parse_request_charged(Some(CT), Some("gzip"), &zipped, &limits, charge).unwrap_err();
    assert_eq!(
        err,
        ChargedError::Charge("upload_file_minidump".len() + 2 * MIB + ENTRY_OVERHEAD)
    );
    assert!(charged.get() <= 5 * MIB, "{}", charged.get());

    // Less room than the first thing kept: nothing charged at all.
    let (charged, charge) = meter(MIB);
    let err = parse_request_charged(Some(CT), None, &plain, &limits, charge).unwrap_err();
    assert!(matches!(err, ChargedError::Charge(_)), "{err:?}");
    assert!(charged.get() < MIB, "{}", charged.get());
}

#[test]
fn a_gzip_bomb_is_charged_no_more_than_the_decompressed_limit() {
    let limits = SubmissionLimits {
        max_decompressed: 3 << 20,
        ..SubmissionLimits::default()
    };
    let bomb = gzip(&vec![0u8; 64 << 20]);
    let (charged, charge) = meter(64 << 20);
    let err = parse_request_charged(Some(CT), Some("gzip"), &bomb, &limits, charge).unwrap_err();
    assert_eq!(
        err,
        ChargedError::Refused(SubmissionError::DecompressedTooLarge { limit: 3 << 20 })
    );
    assert!(charged.get() <= 3 << 20, "{}", charged.get());
}
