"""Relay's own conversion of legacy data-scrubbing settings, for tests/relay_legacy.rs.

Reads a JSON list of settings on stdin and prints a JSON list with, for each, either
{"config": <what sentry_relay.convert_datascrubbing_config returns>} or {"error": <message>}.
"""

import json
import sys

import sentry_relay


def convert(settings):
    try:
        return {"config": sentry_relay.convert_datascrubbing_config(settings)}
    except Exception as error:  # Relay raises its own exception types for bad settings
        return {"error": str(error).splitlines()[0] if str(error) else type(error).__name__}


def main():
    settings = json.load(sys.stdin)
    json.dump([convert(each) for each in settings], sys.stdout)


if __name__ == "__main__":
    main()
