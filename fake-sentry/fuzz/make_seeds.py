#!/usr/bin/env python3
"""Writes the seed corpora of minidump_form and ui_detail (run from anywhere; the files are
committed, so run it again only to change them)."""

import gzip
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
BOUNDARY = b"fuzzboundary"
# A minidump header (signature, version) and a few bytes: ingest checks only the signature.
DUMP = b"MDMP\x93\xa7\x00\x00" + bytes(24)


def part(name, data, filename=None, content_type=None):
    disposition = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename.encode() + b'"'
    head = disposition + b"\r\n"
    if content_type is not None:
        head += b"Content-Type: " + content_type.encode() + b"\r\n"
    return b"--" + BOUNDARY + b"\r\n" + head + b"\r\n" + data + b"\r\n"


def form(*parts):
    return b"".join(parts) + b"--" + BOUNDARY + b"--\r\n"


def minidump_part(data=DUMP):
    return part("upload_file_minidump", data, "crash.dmp", "application/octet-stream")


def write(target, name, data):
    folder = HERE / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


# --- minidump_form: the body of a multipart/form-data; boundary=fuzzboundary request ---------
write("minidump_form", "brackets", form(
    minidump_part(),
    part("sentry[release]", b"app@1.0"),
    part("sentry[tags][build]", b"42"),
    part("sentry[user][id]", b"7"),
    part("sentry[extra][note]", b"<script>alert(1)</script>"),
))
write("minidump_form", "sentry-json", form(
    part("sentry", json.dumps({
        "event_id": "0123456789abcdef0123456789abcdef",
        "release": "app@1.0",
        "tags": {"os": "linux"},
        "contexts": {"device": {"arch": "x86_64"}},
    }).encode(), content_type="application/json"),
    minidump_part(),
    part("ProductName", b"Firefox"),
))
write("minidump_form", "attachments-gzip-dump", form(
    minidump_part(gzip.compress(DUMP, mtime=0)),
    part("log", b"line 1\nline 2\n", "app.log", "text/plain"),
    part("__sentry-breadcrumb1", b'{"message":"clicked"}'),
    part("__sentry-event", b'{"level":"fatal"}'),
))
# sentry-native's Crashpad upload: the event and a breadcrumb list as MessagePack (written by
# hand: {"release": "app@1.0", "tags": {"b": "1"}} and [{"message": "hi"}]), and one nested
# 2,000 lists deep, past the depth bound.
write("minidump_form", "crashpad-msgpack", form(
    part("__sentry-event", b"\x82\xa7release\xa7app@1.0\xa4tags\x81\xa1b\xa11",
         "__sentry-event"),
    part("__sentry-breadcrumb1", b"\x91\x81\xa7message\xa2hi", "__sentry-breadcrumb1"),
    part("__sentry-breadcrumb2", b"\x91" * 2000 + b"\xc0", "__sentry-breadcrumb2"),
    part("sentry[environment]", b"production"),
    minidump_part(),
))
write("minidump_form", "many-fields", form(
    minidump_part(),
    *[part(f"sentry[tags][k{i}]", str(i).encode()) for i in range(100)],
))
# Nesting: a bracket path 250 levels deep (one mutation from the target's depth bound of 256:
# on unbounded code the fuzzer crosses it within a second), one 30,000 levels deep (90 KB; twice
# that overflowed a server worker's stack), a `sentry` JSON field nested past serde_json's
# recursion limit, and bracket paths that conflict with earlier values.
write("minidump_form", "nested-250", form(
    minidump_part(),
    part("sentry[extra]" + "[a]" * 249, b"just under the target's depth bound"),
))
write("minidump_form", "deep-json", form(
    minidump_part(),
    part("sentry", b'{"extra":' + b'{"a":' * 500 + b"1" + b"}" * 501),
))
write("minidump_form", "conflicting-paths", form(
    minidump_part(),
    part("sentry[tags]", b"flat"),
    part("sentry[tags][a]", b"nested"),
    part("sentry[tags][a][b]", b"deeper"),
    part("sentry[]", b"empty"),
    part("sentry[[x]]", b"odd"),
    part("sentry[event_id]", b"not-an-id"),
))

# --- ui_detail: a flags byte, the item type, a newline, then the payload ---------------------
XSS = "</title><script>alert(1)</script><img src=x onerror=alert(2)>"
event = {
    "event_id": "0123456789abcdef0123456789abcdef",
    "timestamp": 1790000000.5,
    "platform": "python",
    "level": "error",
    "release": XSS,
    "environment": "test",
    "sdk": {"name": "sentry.python", "version": "2.0.0"},
    "message": XSS,
    "tags": {"url": "javascript:alert(3)", XSS: XSS},
    "user": {"email": "someone@example.com", "ip_address": "127.0.0.1"},
    "exception": {"values": [{
        "type": "ValueError",
        "value": XSS,
        "mechanism": {"type": "generic", "handled": False},
        "stacktrace": {"frames": [{
            "filename": "app.py", "function": "<script>main</script>", "lineno": 3,
            "abs_path": "/srv/app.py", "in_app": True,
            "pre_context": ["def main():", "    x = 1"], "context_line": "    raise ValueError()",
            "post_context": ["", "main()"], "vars": {"x": "<b>1</b>"},
        }]},
    }]},
    "breadcrumbs": {"values": [
        {"timestamp": 1790000000.0, "category": "http", "message": XSS,
         "data": {"url": "http://example.com/\"><script>"}},
    ]},
    "contexts": {"os": {"name": "Linux"}, "trace": {"trace_id": "0" * 32, "span_id": "1" * 16}},
    "request": {"url": "http://example.com/?q=<script>", "headers": {"User-Agent": XSS}},
}
transaction = {
    "type": "transaction", "transaction": XSS, "event_id": "1" * 32,
    "start_timestamp": 1790000000.0, "timestamp": 1790000001.0,
    "contexts": {"trace": {"trace_id": "0" * 32, "span_id": "1" * 16, "op": "http.server"}},
    "spans": [
        {"span_id": "2" * 16, "parent_span_id": "1" * 16, "op": "db", "description": XSS,
         "start_timestamp": 1790000000.1, "timestamp": 1790000000.4},
        {"span_id": "3" * 16, "parent_span_id": "2" * 16, "op": "http", "description": "GET /",
         "start_timestamp": 1790000000.2, "timestamp": 1790000000.3},
    ],
}
logs = {"items": [
    {"timestamp": 1790000000.0, "level": "info", "body": XSS, "trace_id": "0" * 32,
     "attributes": {"k": {"type": "string", "value": XSS}}},
    {"timestamp": 1790000000.5, "level": "error", "body": "second"},
]}
client_report = {"timestamp": 1790000000, "discarded_events": [
    {"reason": XSS, "category": "error", "quantity": 3}]}
sessions = {"aggregates": [{"started": "2026-09-21T00:00:00Z", "exited": 2, "errored": 1}],
            "attrs": {"release": XSS, "environment": "test"}}
check_in = {"check_in_id": "4" * 32, "monitor_slug": XSS, "status": "error", "duration": 1.5,
            "monitor_config": {"schedule": {"type": "crontab", "value": "* * * * *"}}}
csp = {"csp-report": {"document-uri": "https://example.com/", "violated-directive": "script-src",
                      "blocked-uri": "https://evil.example/<script>.js"}}
findings = [{"path": "user.email", "kind": "rule", "name": XSS, "excerpt": XSS},
            {"path": "tags.url", "kind": "not_allowed", "excerpt": "<script>"}]


def ui(flags, item_type, payload):
    if not isinstance(payload, bytes):
        payload = json.dumps(payload).encode()
    return bytes([flags]) + item_type.encode() + b"\n" + payload


write("ui_detail", "event-xss", ui(0, "event", event))
write("ui_detail", "transaction", ui(0, "transaction", transaction))
write("ui_detail", "log", ui(0, "log", logs))
write("ui_detail", "client-report", ui(0, "client_report", client_report))
write("ui_detail", "sessions", ui(0, "sessions", sessions))
write("ui_detail", "check-in", ui(0, "check_in", check_in))
write("ui_detail", "security", ui(0, "security", csp))
write("ui_detail", "feedback", ui(0, "feedback", {"contexts": {"feedback": {
    "message": XSS, "contact_email": "a@example.com"}}}))
write("ui_detail", "attachment-html", ui(2, "attachment",
                                         b"<!doctype html><script>alert(1)</script>"))
write("ui_detail", "attachment-binary", ui(0, "attachment", bytes(range(256))))
write("ui_detail", "audit-findings", ui(1, "event", findings))
write("ui_detail", "header-object", ui(2, "unknown_type",
                                       {"type": XSS, "filename": XSS, "content_type": "text/html"}))
write("ui_detail", "non-finite", ui(0, "event", b'{"message":"x","extra":{"n":NaN}}'))
# Bit 2: an event sent with a processed minidump, the payload its native event (frames with
# trust and missing symbols, threads, modules); bit 3 as well: processing failed.
frame = {"instruction_addr": "0x140001010", "function": XSS, "package": "C:\\app\\app.exe",
         "trust": "cfi", "data": {"symbolicator_status": "missing", "inline": True}}
native = {
    "platform": "native", "level": "fatal",
    "exception": {"values": [{"type": "EXCEPTION_ACCESS_VIOLATION_READ", "value": XSS,
                              "thread_id": 1, "stacktrace": {"frames": [frame] * 3,
                                                             "registers": {"rip": XSS}}}]},
    "threads": {"values": [{"id": 1, "crashed": True},
                           {"id": 2, "name": XSS, "stacktrace": {"frames": [frame]}}]},
    "debug_meta": {"images": [{"code_file": XSS, "debug_status": "missing",
                               "image_addr": "0x1000", "image_size": 4096}]},
    "contexts": {"os": {"name": "Windows", "version": XSS}, "device": {"arch": "amd64"}},
}
write("ui_detail", "native-crash", ui(4, "event", native))
write("ui_detail", "native-crash-failed", ui(12, "event", XSS.encode()))
