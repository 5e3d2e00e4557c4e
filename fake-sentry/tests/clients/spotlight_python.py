#!/usr/bin/env python3
"""Drive the real Python Sentry SDK (sentry-sdk) in Spotlight mode, for fake-sentry's Spotlight tests.

Usage:
    <repo>/.clients/venv/bin/python spotlight_python.py SPOTLIGHT_URL [--dsn DSN]

`sentry_sdk.init(spotlight=SPOTLIGHT_URL, dsn=DSN)`: the SDK posts every envelope to
SPOTLIGHT_URL (Spotlight's sidecar `/stream`) uncompressed, and, with a DSN, a second copy to the
DSN's envelope endpoint through its usual transport. Without a DSN the SDK has no transport and
samples everything (sentry_sdk/client.py, DSN-less Spotlight mode).

It sends, each as its own envelope:
  (a) an error: ValueError("python spotlight error <marker>") raised in a nested function, caught,
      captured;
  (b) a transaction "python-spotlight-transaction" with one child span;
then flushes (10 s) and prints ONE JSON object on stdout:
  {"error_event_id", "transaction_event_id", "spotlight_statuses": [HTTP status per POST to
   SPOTLIGHT_URL], "transport": bool (whether the SDK made a DSN transport)}

Exit status is non-zero if a capture was dropped or a POST to SPOTLIGHT_URL failed: the SDK's
Spotlight client only logs a failure, so its urllib3 pool is wrapped to see every answer.
"""

import json
import sys

MARKER = "understudy-marker-7f3c"
USAGE = "usage: spotlight_python.py SPOTLIGHT_URL [--dsn DSN]"


def fail(msg):
    print(f"spotlight_python.py: {msg}", file=sys.stderr)
    sys.exit(1)


def main(argv):
    args = argv[1:]
    dsn = None
    positional = []
    while args:
        arg = args.pop(0)
        if arg == "--dsn" and args:
            dsn = args.pop(0)
        elif arg.startswith("-"):
            fail(f"unknown option {arg!r}\n{USAGE}")
        else:
            positional.append(arg)
    if len(positional) != 1:
        fail(USAGE)
    spotlight_url = positional[0]

    import sentry_sdk

    transaction_ids = []

    def before_send_transaction(event, hint):
        transaction_ids.append(event["event_id"])
        return event

    sentry_sdk.init(
        dsn=dsn,
        spotlight=spotlight_url,
        traces_sample_rate=1.0,
        # Fixed values so nothing depends on the machine's git checkout or environment variables.
        release="understudy-test@1.0.0",
        environment="test",
        before_send_transaction=before_send_transaction,
    )

    client = sentry_sdk.get_client()
    spotlight = client.spotlight
    if spotlight is None or spotlight.url != spotlight_url:
        fail(f"the SDK did not set up Spotlight at {spotlight_url}: {spotlight!r}")

    # Every answer to the SDK's (unchanged) Spotlight client, which never raises for a status.
    statuses = []
    original_request = spotlight.http.request

    def recording_request(*a, **kw):
        try:
            response = original_request(*a, **kw)
        except Exception as e:  # noqa: BLE001 - re-raised; the SDK handles it as before
            statuses.append(repr(e))
            raise
        statuses.append(response.status)
        return response

    spotlight.http.request = recording_request

    def outer():
        def inner():
            raise ValueError(f"python spotlight error {MARKER}")

        inner()

    try:
        outer()
    except ValueError as e:
        error_event_id = sentry_sdk.capture_exception(e)

    with sentry_sdk.start_transaction(name="python-spotlight-transaction", op="test"):
        with sentry_sdk.start_span(op="test.child", name="python-spotlight-child-span"):
            pass

    sentry_sdk.flush(timeout=10)

    ids = {
        "error_event_id": error_event_id,
        "transaction_event_id": transaction_ids[0] if len(transaction_ids) == 1 else None,
    }
    for key, value in ids.items():
        if not (isinstance(value, str) and len(value) == 32):
            fail(f"{key} is {value!r}, not a 32-hex event id (event dropped?)")
    failed = [s for s in statuses if not (isinstance(s, int) and 200 <= s < 300)]
    if failed or len(statuses) < 2:
        fail(f"posts to {spotlight_url}: {statuses} (expected at least 2, all 2xx)")

    out = dict(ids)
    out.update({"spotlight_statuses": statuses, "transport": client.transport is not None})
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
