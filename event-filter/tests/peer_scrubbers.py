"""Runs the real peer scrubbers on events, for tests/presets_vs_peers.rs.

stdin:  {"events": [{"name": str, "event": {...}}], "captures": [path, ...]}
        A capture is a wire capture of fake-sentry/testdata/captures/: `<name>.body` (the request
        body, still compressed as its `<name>.json` headers say) or `<name>.envelope.gz`. Every
        event and transaction item of it becomes one more event.
stdout: {"versions": {...}, "results": [{"name", "input", "python-sdk", "fillmore"}]}

`python-sdk` is sentry-sdk's `EventScrubber()` with its defaults (DEFAULT_DENYLIST plus
DEFAULT_PII_DENYLIST, not recursive); `fillmore` is Fillmore's `Scrubber(rules=SCRUB_RULES_DEFAULT)`.
Each runs on its own deep copy of the input.

The one normalisation: EventScrubber writes `AnnotatedValue`s, which sentry-sdk's serializer
turns into the value on the wire plus a `_meta` remark. The serializer is not run (it would also
trim long strings and deep "databags", which is not scrubbing), so an `AnnotatedValue` becomes its
value here and its remark is dropped; the Rust side compares without `meta_remarks`.
"""

import copy
import json
import logging
import sys
from importlib.metadata import version

from captures import capture_events
from fillmore.scrubber import SCRUB_RULES_DEFAULT, Scrubber
from sentry_sdk._types import AnnotatedValue
from sentry_sdk.scrubber import EventScrubber

# Fillmore logs the rule errors it survives; they are expected for the malformed events.
logging.disable(logging.CRITICAL)


def unannotate(node):
    if isinstance(node, AnnotatedValue):
        return unannotate(node.value)
    if isinstance(node, dict):
        return {k: unannotate(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [unannotate(v) for v in node]
    return node


def sentry_sdk_scrub(event):
    event = copy.deepcopy(event)
    EventScrubber().scrub_event(event)
    return unannotate(event)


def fillmore_scrub(event):
    event = copy.deepcopy(event)
    return Scrubber(rules=SCRUB_RULES_DEFAULT)(event, None)


def main():
    request = json.load(sys.stdin)
    events = list(request.get("events", []))
    for capture in request.get("captures", []):
        events.extend(capture_events(capture))
    results = [
        {
            "name": item["name"],
            "input": item["event"],
            "python-sdk": sentry_sdk_scrub(item["event"]),
            "fillmore": fillmore_scrub(item["event"]),
        }
        for item in events
    ]
    versions = {name: version(name) for name in ("sentry-sdk", "fillmore")}
    json.dump({"versions": versions, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
