//! Submissions round-trip through the Antenna-rules parser in every encoding, malformed requests
//! get Antenna's reasons, and a real HTTP POST reaches a collector over a socket.

use std::collections::BTreeMap;
use std::io::Write;

use crash_generator::submission::{
    self, AnnotationEncoding, MINIDUMP_FIELD, Submission, SubmissionError, SubmissionLimits,
};
use crash_generator::{Crash, Profile};

fn sample() -> (Crash, Submission) {
    let crash = Crash::generate(&Profile::default(), 3);
    let sub = Submission::for_crash(&crash);
    (crash, sub)
}

#[test]
fn every_encoding_round_trips() {
    let (crash, mut base) = sample();
    // A second dump holding all of a delimiter but its last byte: data, not a part's end.
    let boundary = submission::boundary_for(9);
    let near_delimiter = format!("\r\n--{}", &boundary[..boundary.len() - 1]).into_bytes();
    base.dumps
        .push(("memory_report".into(), near_delimiter.clone()));
    for encoding in [
        AnnotationEncoding::FormFields,
        AnnotationEncoding::ExtraJson,
    ] {
        for gzip in [false, true] {
            let sub = Submission {
                annotation_encoding: encoding,
                gzip,
                ..base.clone()
            };
            let built = submission::build(&sub, &boundary);
            assert!(
                built
                    .content_type
                    .starts_with("multipart/form-data; boundary=")
            );
            assert_eq!(built.content_encoding.is_some(), gzip);
            let parsed = submission::parse_request(
                Some(&built.content_type),
                built.content_encoding,
                &built.body,
                &SubmissionLimits::default(),
            )
            .unwrap();
            assert_eq!(parsed.annotations, crash.profile.annotations);
            assert_eq!(parsed.dumps[MINIDUMP_FIELD], crash.minidump_bytes());
            assert_eq!(parsed.dumps["memory_report"], near_delimiter);
            assert_eq!(parsed.payload_compressed, gzip);
            assert_eq!(
                parsed.payload,
                if encoding == AnnotationEncoding::ExtraJson {
                    "json"
                } else {
                    "multipart"
                }
            );
        }
    }
}

#[test]
fn malformed_requests_get_antennas_reasons() {
    let (_, sub) = sample();
    let built = submission::build(&sub, "XyZ");
    let limits = SubmissionLimits::default();
    let reason = |ct: Option<&str>, ce: Option<&str>, body: &[u8]| {
        submission::parse_request(ct, ce, body, &limits)
            .unwrap_err()
            .reason()
    };
    assert_eq!(reason(None, None, &built.body), "no_content_type");
    assert_eq!(
        reason(Some("application/json"), None, &built.body),
        "wrong_content_type"
    );
    assert_eq!(
        reason(Some("multipart/form-data"), None, &built.body),
        "no_boundary"
    );
    assert_eq!(
        reason(Some(&built.content_type), None, b""),
        "no_content_length"
    );
    assert_eq!(
        reason(Some(&built.content_type), Some("gzip"), &built.body),
        "bad_gzip"
    );
    assert_eq!(
        reason(
            Some("multipart/form-data; boundary=other"),
            None,
            &built.body
        ),
        "invalid_payload_structure"
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&built.body).unwrap();
    assert_eq!(
        reason(Some(&built.content_type), None, &gz.finish().unwrap()),
        "invalid_payload_structure",
        "a gzipped body without Content-Encoding is junk"
    );

    let no_annotations = Submission {
        annotations: BTreeMap::new(),
        ..sub.clone()
    };
    let b = submission::build(&no_annotations, "XyZ");
    assert_eq!(
        reason(Some(&b.content_type), None, &b.body),
        "no_annotations"
    );

    let reserved = Submission {
        dumps: vec![("raw_crash".into(), vec![1, 2, 3])],
        ..sub.clone()
    };
    let b = submission::build(&reserved, "XyZ");
    assert_eq!(
        reason(Some(&b.content_type), None, &b.body),
        "invalid_dump_name"
    );

    let bad_json = b"--XyZ\r\nContent-Disposition: form-data; name=\"extra\"\r\nContent-Type: application/json\r\n\r\n{not json\r\n--XyZ--\r\n";
    assert_eq!(
        reason(Some("multipart/form-data; boundary=XyZ"), None, bad_json),
        "invalid_json"
    );
    let list_json = b"--XyZ\r\nContent-Disposition: form-data; name=\"extra\"\r\nContent-Type: application/json\r\n\r\n[1]\r\n--XyZ--\r\n";
    assert_eq!(
        reason(Some("multipart/form-data; boundary=XyZ"), None, list_json),
        "invalid_json_value"
    );

    let tight = SubmissionLimits {
        max_body: 100,
        ..SubmissionLimits::default()
    };
    let err = submission::parse_request(Some(&built.content_type), None, &built.body, &tight)
        .unwrap_err();
    assert_eq!(err.status(), 413);
    assert!(matches!(err, SubmissionError::TooLarge { .. }));
}

#[test]
fn dump_names_are_sanitized_and_mixed_annotations_are_noted() {
    let body = b"--B\r\nContent-Disposition: form-data; name=\"ProductName\"\r\n\r\nFirefox\r\n\
--B\r\nContent-Disposition: form-data; name=\"extra\"\r\nContent-Type: application/json\r\n\r\n{\"Version\":\"1\",\"Nested\":{\"a\":1}}\r\n\
--B\r\nContent-Disposition: form-data; name=\"upload_file_minidump-browser!\"; filename=\"x.dmp\"\r\nContent-Type: application/octet-stream\r\n\r\nMDMP\r\n--B--\r\n";
    let parsed = submission::parse("multipart/form-data; boundary=B", body).unwrap();
    assert_eq!(parsed.annotations["ProductName"], "Firefox");
    assert_eq!(parsed.annotations["Nested"], r#"{"a":1}"#);
    assert_eq!(parsed.dumps["upload_file_minidumpbrowser"], b"MDMP");
    assert_eq!(parsed.notes.len(), 1);
}

/// A one-shot collector on 127.0.0.1:0 that records the request and answers like Antenna.
async fn collector() -> (String, tokio::task::JoinHandle<(String, Vec<u8>)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/submit", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut data = Vec::new();
        let mut buf = [0u8; 65536];
        let (head, body_start, length) = loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed early");
            data.extend_from_slice(&buf[..n]);
            if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..at]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .expect("content-length");
                break (head, at + 4, length);
            }
        };
        while data.len() < body_start + length {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed early");
            data.extend_from_slice(&buf[..n]);
        }
        let reply = "CrashID=bp-de1bb258-cbbf-4589-a673-34f800260101\n";
        socket
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        (head, data[body_start..body_start + length].to_vec())
    });
    (url, handle)
}

#[tokio::test]
async fn post_reaches_a_collector_over_a_socket() {
    let (crash, mut sub) = sample();
    sub.gzip = true;
    let built = submission::build(&sub, &submission::boundary_for(1));
    let (url, server) = collector().await;
    let response = submission::post(&reqwest::Client::new(), &url, &built)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.crash_id(),
        Some("de1bb258-cbbf-4589-a673-34f800260101")
    );
    let (head, body) = server.await.unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    assert_eq!(header("content-encoding"), "gzip");
    let parsed = submission::parse_request(
        Some(&header("content-type")),
        Some(&header("content-encoding")),
        &body,
        &SubmissionLimits::default(),
    )
    .unwrap();
    assert_eq!(parsed.dumps[MINIDUMP_FIELD], crash.minidump_bytes());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Untrusted bodies never panic the parser: they parse or get a reason.
    #[test]
    fn arbitrary_bodies_get_a_verdict(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), gzip in proptest::prelude::any::<bool>()) {
        let result = submission::parse_request(
            Some("multipart/form-data; boundary=XyZ"),
            gzip.then_some("gzip"),
            &body,
            &SubmissionLimits::default(),
        );
        if let Err(e) = result {
            proptest::prop_assert!(!e.reason().is_empty());
        }
    }
}

/// `(request head, body)` of each request a collector saw.
type SeenRequests = Vec<(String, Vec<u8>)>;

/// A blocking collector on 127.0.0.1:0 answering each of `replies` in turn, returning bodies.
fn blocking_collector(
    replies: Vec<&'static str>,
) -> (String, std::thread::JoinHandle<SeenRequests>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/submit", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for reply in replies {
            let (mut socket, _) = listener.accept().unwrap();
            let mut data = Vec::new();
            let mut buf = [0u8; 65536];
            loop {
                let n = socket.read(&mut buf).unwrap();
                assert!(n > 0, "client closed early");
                data.extend_from_slice(&buf[..n]);
                let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&data[..at]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap();
                if data.len() >= at + 4 + length {
                    seen.push((head, data[at + 4..at + 4 + length].to_vec()));
                    break;
                }
            }
            write!(
                socket,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .unwrap();
        }
        seen
    });
    (url, handle)
}

#[test]
fn batches_count_throttled_crashes_as_rejected() {
    use crash_generator::submission::{Destination, Encoding, submit_batch};
    let (url, server) = blocking_collector(vec![
        "CrashID=bp-de1bb258-cbbf-4589-a673-34f800260101\n",
        "Discarded=rule_has_old_buildid",
    ]);
    let outcome = submit_batch(
        &Profile::default(),
        40,
        2,
        Encoding {
            annotations: AnnotationEncoding::ExtraJson,
            gzip: false,
        },
        &Destination::Collector(url),
    )
    .unwrap();
    assert_eq!(outcome.sent, 2);
    assert_eq!(outcome.rejected.len(), 1);
    assert_eq!(outcome.rejected[0].0, "linux-41");
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2);
    for (seed, (head, body)) in (40..).zip(&seen) {
        assert!(head.starts_with("POST /submit "), "{head}");
        let content_type = format!(
            "multipart/form-data; boundary={}",
            submission::boundary_for(seed)
        );
        let parsed = submission::parse(&content_type, body).unwrap();
        assert_eq!(
            parsed.dumps[MINIDUMP_FIELD],
            Crash::generate(&Profile::default(), seed).minidump_bytes()
        );
    }
}
