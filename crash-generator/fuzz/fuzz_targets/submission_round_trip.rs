//! What `submission::build` writes, `submission::parse` reads back: the same annotations (as
//! form fields or one JSON `extra` part) and the same dumps, gzipped or not. Inputs whose names
//! Antenna would rewrite or refuse, or whose bytes contain the boundary, are skipped: `build`
//! documents that the boundary must not occur in a part.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use crash_generator::submission::{
    AnnotationEncoding, ParseLimits, Submission, boundary_for, build, parse_request,
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
    let limits = ParseLimits {
        max_body_size: encoded.body.len().max(1) * 4 + (1 << 20),
    };
    let parsed = match parse_request(
        Some(&encoded.content_type),
        encoded.content_encoding,
        &encoded.body,
        limits,
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
