"""Relay's own validation of PII configs and selectors, for tests/relay_validate.rs.

Reads a JSON list on stdin whose entries are {"config": <JSON text>} (checked with
sentry_relay.validate_pii_config) or {"selector": <text>} (checked with
sentry_relay.validate_pii_selector), and prints a JSON list with, for each, {"ok": true} or
{"error": <message>}.
"""

import json
import sys

import sentry_relay


def validate(entry):
    try:
        if "config" in entry:
            sentry_relay.validate_pii_config(entry["config"])
        else:
            sentry_relay.validate_pii_selector(entry["selector"])
    except Exception as error:  # Relay raises ValueError with its message
        return {"error": str(error) or type(error).__name__}
    return {"ok": True}


def main():
    entries = json.load(sys.stdin)
    json.dump([validate(entry) for entry in entries], sys.stdout)


if __name__ == "__main__":
    main()
