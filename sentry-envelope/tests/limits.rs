//! `parse_with`: the limits are checked while framing, so a body of a million tiny items stops
//! at the first item past the limit, having accounted for no more than that.

use std::convert::Infallible;

use sentry_envelope::{EnvelopeError, ITEM_OVERHEAD, ParseError, ParseLimits, parse, parse_with};

fn limits(max_items: usize) -> ParseLimits {
    ParseLimits {
        max_items,
        max_header_bytes: 1024,
        max_item_header_bytes: 256,
        max_json_depth: 4,
    }
}

fn no_account(_: usize) -> Result<(), Infallible> {
    Ok(())
}

#[test]
fn item_count_stops_at_the_first_item_past_the_limit() {
    let mut body = b"{}\n".to_vec();
    for _ in 0..1_000_000 {
        body.extend_from_slice(b"{}\n\n");
    }
    let mut accounted = 0usize;
    let mut calls = 0usize;
    let result = parse_with(&body, &limits(10), |bytes| {
        accounted += bytes;
        calls += 1;
        Ok::<(), Infallible>(())
    });
    assert!(
        matches!(result, Err(ParseError::TooManyItems { limit: 10 })),
        "{result:?}"
    );
    // The envelope header and ten items, nothing of the rest.
    assert_eq!(calls, 11);
    assert!(accounted <= 11 * (ITEM_OVERHEAD + 64), "{accounted}");

    // Exactly at the limit is fine, and the unlimited parse still reads everything.
    let body = b"{}\n{}\n\n{}\n\n".to_vec();
    assert_eq!(
        parse_with(&body, &limits(2), no_account)
            .unwrap()
            .items
            .len(),
        2
    );
    assert!(matches!(
        parse_with(&body, &limits(1), no_account),
        Err(ParseError::TooManyItems { limit: 1 })
    ));
    assert_eq!(parse(&body).unwrap().items.len(), 2);
}

#[test]
fn items_with_bad_headers_count_too() {
    let body = format!("{{}}\n{}", "x\n".repeat(100_000));
    assert!(matches!(
        parse_with(body.as_bytes(), &limits(5), no_account),
        Err(ParseError::TooManyItems { limit: 5 })
    ));
}

#[test]
fn header_lengths_are_limited() {
    let long = format!("{{\"a\":\"{}\"}}", "x".repeat(2000));
    let body = format!("{long}\n{{\"type\":\"event\"}}\n{{}}\n");
    match parse_with(body.as_bytes(), &limits(10), no_account) {
        Err(ParseError::Envelope(EnvelopeError::InvalidHeader(reason))) => {
            assert!(reason.contains("longer than 1024 bytes"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // Without a newline at all, too.
    assert!(parse_with(long.as_bytes(), &limits(10), no_account).is_err());
    // A header exactly at the limit is fine.
    let exact = format!("{{\"a\":\"{}\"}}", "x".repeat(1024 - 8));
    assert_eq!(exact.len(), 1024);
    assert!(parse_with(exact.as_bytes(), &limits(10), no_account).is_ok());

    let item_header = format!("{{\"type\":\"event\",\"pad\":\"{}\"}}", "y".repeat(300));
    let body = format!("{{}}\n{item_header}\n{{\"type\":\"event\"}}\n{{\"ok\":1}}\n");
    let envelope = parse_with(body.as_bytes(), &limits(10), no_account).expect("parses");
    let reasons = envelope.framing_errors();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains("item header is longer than 256 bytes"),
        "{reasons:?}"
    );
    // Framing resumes on the next line.
    assert_eq!(envelope.items.len(), 2);
    assert_eq!(envelope.items.last().unwrap().payload, b"{\"ok\":1}");
}

#[test]
fn the_accounting_function_can_stop_parsing() {
    let body = b"{}\n{\"type\":\"event\"}\n{}\n{\"type\":\"event\"}\n{}\n";
    let mut left = 2;
    let result = parse_with(body, &limits(10), |_| {
        if left == 0 {
            return Err("no room");
        }
        left -= 1;
        Ok(())
    });
    assert!(
        matches!(result, Err(ParseError::Account("no room"))),
        "{result:?}"
    );
}

#[test]
fn header_nesting_is_limited_below_serde_json_s_own() {
    // Four levels pass, five do not: the envelope header fails the body, an item header only
    // its item.
    let ok = br#"{"a":{"b":{"c":[1]}}}
{"type":"event","x":{"b":{"c":[1]}}}
{}
"#;
    let envelope = parse_with(ok, &limits(10), no_account).unwrap();
    assert_eq!(envelope.items[0].framing_error, None);

    let deep_header = b"{\"a\":{\"b\":{\"c\":[[1]]}}}\n";
    let err = parse_with(deep_header, &limits(10), no_account).unwrap_err();
    assert!(
        matches!(&err, ParseError::Envelope(EnvelopeError::InvalidHeader(why))
            if why == "JSON nests deeper than 4 levels"),
        "{err:?}"
    );

    let deep_item = b"{}\n{\"type\":\"event\",\"x\":[[[[1]]]]}\n{\"type\":\"log\"}\n{}\n";
    let envelope = parse_with(deep_item, &limits(10), no_account).unwrap();
    assert_eq!(
        envelope.items[0].framing_error.as_deref(),
        Some("item header is not a JSON object: JSON nests deeper than 4 levels")
    );
    // Framing carries on after the refused header line.
    assert_eq!(envelope.items.last().unwrap().item_type, "log");
}
