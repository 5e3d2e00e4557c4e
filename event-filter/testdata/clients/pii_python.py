#!/usr/bin/env python3
"""Send test events with planted (fake) personal data and secrets through the real Python SDK.

Usage:
    <repo>/.clients/venv/bin/python pii_python.py DSN [--no-scrubber]

Run it with the venv made by scripts/setup-test-clients (sentry-sdk 2.75.0). It sends two error
events, each as its own envelope, and prints ONE JSON object on stdout:
    {"clean_event_id", "pii_event_id", "sdk_version", "scrubber"}

  clean: ValueError("boom") raised from a function whose only local is an integer; sent first,
         before any user, breadcrumb or request is put on a scope, so it carries no planted data.
  pii:   user, breadcrumb, request (attached by a scope event processor) and a ValueError whose
         frame locals hold a password, card number, GitHub token, AWS key, bearer JWT, database
         URL with password, and an IBAN.

By default the SDK's own EventScrubber is active, exactly as in a real deployment with
send_default_pii=True: it replaces dict keys in its DEFAULT_DENYLIST (e.g. the local `password`,
the `Authorization` and `Cookie` headers, the `sessionid` cookie) with "[Filtered]" before
sending. `--no-scrubber` passes `event_scrubber=EventScrubber(denylist=[], send_default_pii=True)`
so every planted value reaches the wire unfiltered.

All personal data and secrets here are fake (documentation IP ranges, example.com, the AWS
documentation example key, the Visa test card, the IBAN specification example).
"""

import json
import sys

PII_USER = {
    "id": "42",
    "email": "jane.doe@example.com",
    "ip_address": "203.0.113.7",
    "username": "jdoe",
}

PII_REQUEST = {
    "url": "https://shop.example.com/checkout?token=abc123&page=2",
    "method": "POST",
    "query_string": "token=abc123&page=2",
    "headers": {
        "Authorization": "Basic dXNlcjpwYXNz",
        "Cookie": "sessionid=s3ss10n; theme=dark",
        "User-Agent": "Mozilla/5.0",
    },
    "cookies": {"sessionid": "s3ss10n", "theme": "dark"},
    "env": {"REMOTE_ADDR": "192.0.2.44"},
}


def fail(msg):
    print(f"pii_python.py: {msg}", file=sys.stderr)
    sys.exit(1)


def boom(n):
    # Only local: the integer `n`.
    raise ValueError("boom")


def send_clean(sentry_sdk):
    try:
        boom(3)
    except ValueError as e:
        return sentry_sdk.capture_exception(e)


def charge_card():
    password = "hunter2-correct-horse"
    card = "4111 1111 1111 1111"
    api_token = "ghp_" + "R8xKq2LmN4vT7wZ1pC9sD3fH6jY0bA5eG2uQ"
    aws_key = "AKIA" + "IOSFODNN7EXAMPLE"
    auth_header = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    db_url = "postgres://app:s3cr3t-pw@db.internal:5432/app"
    iban = "DE89 3704 0044 0532 0130 00"
    raise ValueError("payment failed for jane.doe@example.com")


def attach_request(event, hint):
    event["request"] = json.loads(json.dumps(PII_REQUEST))  # a fresh deep copy
    return event


def send_pii(sentry_sdk):
    sentry_sdk.set_user(dict(PII_USER))
    sentry_sdk.add_breadcrumb(
        category="auth",
        message="login from 198.51.100.23 by jane.doe@example.com",
        level="info",
    )
    with sentry_sdk.new_scope() as scope:
        scope.add_event_processor(attach_request)
        try:
            charge_card()
        except ValueError as e:
            return sentry_sdk.capture_exception(e)


def main(argv):
    args = argv[1:]
    no_scrubber = "--no-scrubber" in args
    positional = [a for a in args if not a.startswith("-")]
    unknown = [a for a in args if a.startswith("-") and a != "--no-scrubber"]
    if unknown or len(positional) != 1:
        fail("usage: pii_python.py DSN [--no-scrubber]")
    dsn = positional[0]

    import sentry_sdk
    from sentry_sdk.scrubber import EventScrubber

    extra = {}
    if no_scrubber:
        extra["event_scrubber"] = EventScrubber(denylist=[], send_default_pii=True)

    sentry_sdk.init(
        dsn,
        send_default_pii=True,
        include_local_variables=True,
        max_request_body_size="always",
        release="pii-test@1",
        environment="test",
        **extra,
    )
    client = sentry_sdk.get_client()
    if not client.is_active() or client.transport is None:
        fail("sentry_sdk did not initialise a transport (bad DSN?)")

    clean_id = send_clean(sentry_sdk)
    pii_id = send_pii(sentry_sdk)
    sentry_sdk.flush(timeout=10)

    for key, value in (("clean_event_id", clean_id), ("pii_event_id", pii_id)):
        if not (isinstance(value, str) and len(value) == 32):
            fail(f"{key} is {value!r} (event dropped?)")

    out = {
        "clean_event_id": clean_id,
        "pii_event_id": pii_id,
        "sdk_version": sentry_sdk.VERSION,
        "scrubber": not no_scrubber,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
