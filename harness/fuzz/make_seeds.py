#!/usr/bin/env python3
"""Writes the seed corpora of collector_submission and crash_signature (committed; run again
only to change them).

collector_submission's input layout: a choice byte (bits 0-5 pick the Content-Type, 0 = multipart/form-data with
boundary fuzzboundary, 3 = application/json; bit 6 also writes to disk; bit 7 declares gzip),
then the body.

crash_signature's: a mode byte (0: a processed crash as JSON, here crash-signature's corpus
crashes for the annotation and malformed-input rules; 1: an AsyncShutdownTimeout annotation;
2: function names, one per line), then the text."""

import gzip
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
FOLDER = HERE / "corpus" / "collector_submission"
BOUNDARY = b"fuzzboundary"
DUMP = b"MDMP\x93\xa7\x00\x00" + bytes(24)
DISK, GZIP = 0x40, 0x80


def part(name, data, filename=None, content_type=None):
    head = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
    if filename is not None:
        head += b'; filename="' + filename.encode() + b'"'
    head += b"\r\n"
    if content_type is not None:
        head += b"Content-Type: " + content_type.encode() + b"\r\n"
    return b"--" + BOUNDARY + b"\r\n" + head + b"\r\n" + data + b"\r\n"


def form(*parts):
    return b"".join(parts) + b"--" + BOUNDARY + b"--\r\n"


crash = form(
    part("ProductName", b"Firefox"),
    part("Version", b"140.0"),
    part("Email", b"someone@example.com"),
    part("TelemetryClientId", b"abc"),
    part("upload_file_minidump", DUMP, "upload_file_minidump.dmp", "application/octet-stream"),
    part("upload_file_minidump_browser", DUMP, "browser.dmp", "application/octet-stream"),
)
extra_json = form(
    part("extra", json.dumps({"ProductName": "Firefox", "Version": "140.0",
                              "Notes": "<script>"}).encode(), "extra.json", "application/json"),
    part("upload_file_minidump", DUMP, "upload_file_minidump.dmp", "application/octet-stream"),
)
SEEDS = {
    "form-fields": (0, crash),
    "form-fields-disk": (DISK, crash),
    "extra-json-gzip-disk": (DISK | GZIP, gzip.compress(extra_json, mtime=0)),
    "uuid-refused": (0, form(part("ProductName", b"Firefox"), part("uuid", b"de1bb258-cbbf-4589-a673-34f800160918"))),
    "dump-named-dump": (DISK, form(part("ProductName", b"x"), part("dump", DUMP, "d.dmp"),
                                   part("upload_file_minidump", DUMP, "u.dmp"),
                                   part("../../etc", DUMP, "p.dmp"))),
    "json-body": (3, b'{"ProductName":"Firefox"}'),
}
FOLDER.mkdir(parents=True, exist_ok=True)
for name, (choice, body) in SEEDS.items():
    (FOLDER / name).write_bytes(bytes([choice]) + body)

# crash_signature: the rule crashes of crash-signature's corpus, plus annotations and names.
SIGNATURE_FOLDER = HERE / "corpus" / "crash_signature"
CORPUS = HERE.parent.parent / "crash-signature" / "testdata" / "corpus"
RULE_CRASHES = [
    "rule-shutdown-timeout-invalid-json", "rule-shutdown-timeout-missing-name",
    "rule-shutdown-timeout-no-conditions", "rule-oom-reason", "rule-ipc-stomps-abort",
    "rule-java-stack-trace", "rule-java-exception-malformed", "rule-crashing-thread-string",
    "rule-frame-not-an-object", "rule-stackwalker-error-with-hang", "norm-cpp-lambda-numbers",
    "norm-cpp-operator-new", "walk-all-irrelevant",
]
SIGNATURE_SEEDS = {name: (0, (CORPUS / f"{name}.json").read_bytes()) for name in RULE_CRASHES}
SIGNATURE_SEEDS.update({
    "shutdown-conditions": (1, json.dumps({"phase": "profile-before-change", "conditions": [
        {"name": "A"}, {"name": "B", "state": {"x": [1, 2.5e3, None, True]}}, "C"]}).encode()),
    "shutdown-escapes": (1, b'{"phase": "\\ud83d\\ude00 \\u0000", "conditions": []}'),
    "names-cpp-rust": (2, "\n".join([
        "mozalloc_abort", "abort", "moz_xmalloc",
        "std::vector<int, std::allocator<int> >::push_back(int const&)",
        "(anonymous namespace)::Thing::operator()(int) const",
        "core::panicking::panic_fmt::h0123456789abcdef",
        "<alloc::vec::Vec<u8> as core::ops::drop::Drop>::drop",
        "libxul.so@0x1234", "RtlUserThreadStart",
    ]).encode()),
})
SIGNATURE_FOLDER.mkdir(parents=True, exist_ok=True)
for name, (mode, text) in SIGNATURE_SEEDS.items():
    (SIGNATURE_FOLDER / name).write_bytes(bytes([mode]) + text)
