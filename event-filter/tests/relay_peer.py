"""Runs Relay's own PII engine (sentry-relay's `pii_strip_event`) for tests/relay_vs_peer.rs.

One process serves the whole test: it reads one JSON request per line on stdin and writes one
JSON reply per line on stdout, until stdin closes. A request:

    {"cases": [{"config": {...}, "event": {...}}, ...],
     "normalize": [event, ...],
     "captures": [path, ...]}

every key optional. The reply:

    {"version": "<sentry-relay version>",
     "cases": [stripped event | {"error": "..."}, ...],
     "normalize": [pii_strip_event({}, event) | {"error": "..."}, ...],
     "captures": [{"name": "<file>#<item>", "event": {...}}, ...]}

- `cases`: Relay's stripped event for each (config, event), `_meta` included.
- `normalize`: the event through Relay with no rules, which is Relay's schema normalisation
  alone (`message` becomes `logentry.formatted`, header and cookie objects become `[name, value]`
  pair lists, ...). The test puts event-filter's output through it so that both sides have
  Relay's shapes.
- `captures`: the events and transactions of wire captures of fake-sentry/testdata/captures/
  (`<name>.body`, still compressed as its `<name>.json` headers say, or `<name>.envelope.gz`),
  decoded by tests/captures.py.

An error in one case is that case's `{"error": ...}`; the process goes on.
"""

import json
import sys
from importlib.metadata import version

import sentry_relay
from captures import capture_events


def guarded(f, *args):
    try:
        return f(*args)
    except Exception as e:  # noqa: BLE001 - each case reports its own failure
        return {"error": f"{type(e).__name__}: {e}"}


def serve(request):
    reply = {"version": version("sentry-relay")}
    reply["cases"] = [
        guarded(sentry_relay.pii_strip_event, case["config"], case["event"])
        for case in request.get("cases", [])
    ]
    reply["normalize"] = [
        guarded(sentry_relay.pii_strip_event, {}, event) for event in request.get("normalize", [])
    ]
    captures = []
    for path in request.get("captures", []):
        captures.extend(capture_events(path))
    reply["captures"] = captures
    return reply


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        sys.stdout.write(json.dumps(serve(json.loads(line))))
        sys.stdout.write("\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
