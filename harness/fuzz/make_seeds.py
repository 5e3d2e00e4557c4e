#!/usr/bin/env python3
"""Writes the seed corpus of collector_submission (committed; run again only to change it).
Input layout: a choice byte (bits 0-5 pick the Content-Type, 0 = multipart/form-data with
boundary fuzzboundary, 3 = application/json; bit 6 also writes to disk; bit 7 declares gzip),
then the body."""

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
