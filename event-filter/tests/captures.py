"""The wire captures of fake-sentry/testdata/captures/, read the one way every test script here
reads them: `<name>.body` (a request body, still compressed as its `<name>.json` headers say) or
`<name>.envelope.gz`; each event and transaction item becomes one event.

Used by tests/peer_scrubbers.py, tests/relay_peer.py and rules/relay_pii_fields.py (which run
as scripts, so this file's directory, or the one they add, is on their import path). A brotli
body needs the `brotli` module (scripts/setup-test-clients installs it into .clients/venv); it
is imported only then, so a Python without it reads every other capture and says exactly what
is missing when a brotli one comes.
"""

import gzip
import json
from pathlib import Path


def envelope_items(data):
    """(type, payload) of every item of an envelope (length-prefixed or newline-terminated)."""
    lines = data.split(b"\n", 1)
    rest = lines[1] if len(lines) > 1 else b""
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        if not header_line.strip():
            continue
        header = json.loads(header_line)
        length = header.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length + 1 :]
        yield header.get("type"), payload


def capture_events(path):
    """{"name": "<file>#<item>", "event": {...}} for each event and transaction of a capture."""
    path = Path(path)
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(raw)
    else:
        meta = json.loads(path.with_suffix(".json").read_text())
        encoding = {k.lower(): v for k, v in meta["headers"].items()}.get("content-encoding", "")
        if encoding == "br":
            import brotli

            data = brotli.decompress(raw)
        elif encoding == "gzip":
            data = gzip.decompress(raw)
        else:
            data = raw
    for n, (kind, payload) in enumerate(envelope_items(data)):
        if kind in ("event", "transaction"):
            yield {"name": f"{path.name}#{n}", "event": json.loads(payload)}
