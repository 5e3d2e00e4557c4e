//! What `submission::build` writes, `submission::parse` reads back: the same annotations (as
//! form fields or one JSON `extra` part) and the same dumps, gzipped or not. Inputs whose names
//! Antenna would rewrite or refuse, or whose bytes contain the boundary, are skipped: `build`
//! documents that the boundary must not occur in a part.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use crash_generator::submission::{
    AnnotationEncoding, Submission, SubmissionLimits, boundary_for, build, parse_request,
    sanitize_key_name,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, arbitrary::Arbitrary)]
struct Input {
    annotations: BTreeMap<String, String>,
    extra_json: bool,
    dumps: Vec<(String, Vec<u8>)>,
    gzip: bool,
}

fn plain_name(name: &str) -> bool {
    !name.is_empty() && sanitize_key_name(name) == name
}

fuzz_target!(|input: Input| {
    let boundary = boundary_for(0);
    let contains_boundary = |bytes: &[u8]| {
        bytes
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
    };
    let reserved = ["dump_names", "processed_crash", "raw_crash"];
    let dump_names: BTreeSet<&str> = input.dumps.iter().map(|(n, _)| n.as_str()).collect();
    if input.annotations.is_empty()
        || !input.annotations.keys().all(|k| plain_name(k))
        || input
            .annotations
            .values()
            .any(|v| contains_boundary(v.as_bytes()))
        || dump_names.len() != input.dumps.len()
        || !input
            .dumps
            .iter()
            .all(|(n, _)| plain_name(n) && !reserved.contains(&n.as_str()))
        || input.dumps.iter().any(|(_, d)| contains_boundary(d))
    {
        return;
    }
    let submission = Submission {
        annotations: input.annotations.clone(),
        annotation_encoding: if input.extra_json {
            AnnotationEncoding::ExtraJson
        } else {
            AnnotationEncoding::FormFields
        },
        dumps: input.dumps.clone(),
        gzip: input.gzip,
    };
    let encoded = build(&submission, &boundary);
    // Limits no built submission of this size reaches (each part, name and value takes at
    // least a byte of the body): the round trip is what is tested here, not the limits.
    let room = encoded.body.len().max(1) * 4 + (1 << 20);
    let limits = SubmissionLimits {
        max_body: room,
        max_decompressed: room,
        max_parts: room,
        max_part_header: room,
        max_field_name: room,
        max_field_value: room,
        max_annotations: room,
        max_dumps: room,
        ..SubmissionLimits::default()
    };
    let parsed = match parse_request(
        Some(&encoded.content_type),
        encoded.content_encoding,
        &encoded.body,
        &limits,
    ) {
        Ok(parsed) => parsed,
        Err(err) => panic!("a built submission does not parse: {err}"),
    };
    assert_eq!(parsed.annotations, input.annotations);
    assert_eq!(
        parsed.dumps,
        input.dumps.into_iter().collect::<BTreeMap<_, _>>()
    );
    assert_eq!(parsed.payload_compressed, input.gzip);
    assert_eq!(
        parsed.payload,
        if input.extra_json {
            "json"
        } else {
            "multipart"
        }
    );
});
