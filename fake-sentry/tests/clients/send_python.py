#!/usr/bin/env python3
"""Drive the real Python Sentry SDK (sentry-sdk) against a DSN, for fake-sentry's real-client tests.

Usage:
    <repo>/.clients/venv/bin/python send_python.py DSN [--no-brotli]

Run it with the interpreter of the venv made by scripts/setup-test-clients (sentry-sdk 2.75.0,
brotli 1.2.1). With brotli importable the SDK sends `Content-Encoding: br`; `--no-brotli` hides the
module before sentry_sdk is imported so the SDK falls back to gzip (level 9).

It sends, each as its own envelope:
  (a) an error: ValueError("python error <marker>") raised in a nested function, caught, captured;
  (b) capture_message("python message <marker>");
  (c) a transaction "python-transaction" with one child span "python-child-span";
  (d) capture_message("python message with attachment") with the attachment
      python-attachment.bin = b"attachment-bytes\\x00\\x01";
then flushes (10 s) and prints ONE JSON object on stdout:
  {"error_event_id", "message_event_id", "transaction_event_id", "attachment_event_id",
   "sdk_name": "sentry.python", "sdk_version", "brotli": bool, "requests": N}
Event ids are 32 lowercase hex characters. "brotli" says whether the transport compresses with br.

Exit status is non-zero if any capture was dropped, any HTTP request failed or was answered with a
non-2xx status, or fewer than 4 requests completed before the flush timeout.
"""

import json
import sys

MARKER = "understudy-marker-7f3c"
ATTACHMENT_BYTES = b"attachment-bytes\x00\x01"


def fail(msg):
    print(f"send_python.py: {msg}", file=sys.stderr)
    sys.exit(1)


def main(argv):
    args = argv[1:]
    no_brotli = False
    positional = []
    for arg in args:
        if arg == "--no-brotli":
            no_brotli = True
        elif arg.startswith("-"):
            fail(f"unknown option {arg!r}\nusage: send_python.py DSN [--no-brotli]")
        else:
            positional.append(arg)
    if len(positional) != 1:
        fail("usage: send_python.py DSN [--no-brotli]")
    dsn = positional[0]

    if no_brotli:
        # Must happen before sentry_sdk is imported: sentry_sdk.transport does
        # `try: import brotli except ImportError: brotli = None` at import time.
        sys.modules["brotli"] = None

    import sentry_sdk
    from sentry_sdk.transport import HttpTransport

    # Record the outcome of every HTTP request the SDK's (unchanged) default transport makes, so
    # this script can fail loudly instead of the SDK silently logging and dropping.
    outcomes = []  # list of (status or None, error or None)
    original_request = HttpTransport._request

    def recording_request(self, *a, **kw):
        try:
            response = original_request(self, *a, **kw)
        except Exception as e:  # noqa: BLE001 - re-raised; the SDK handles it as before
            outcomes.append((None, repr(e)))
            raise
        outcomes.append((response.status, None))
        return response

    HttpTransport._request = recording_request

    transaction_ids = []

    def before_send_transaction(event, hint):
        transaction_ids.append(event["event_id"])
        return event

    sentry_sdk.init(
        dsn=dsn,
        traces_sample_rate=1.0,
        debug=False,
        # Fixed values so nothing depends on the machine's git checkout or environment variables.
        release="understudy-test@1.0.0",
        environment="test",
        before_send_transaction=before_send_transaction,
    )

    client = sentry_sdk.get_client()
    if not client.is_active() or client.transport is None:
        fail("sentry_sdk did not initialise a transport (bad DSN?)")
    uses_brotli = getattr(client.transport, "_compression_algo", None) == "br"
    if no_brotli and uses_brotli:
        fail("--no-brotli given but the transport still uses brotli")

    # (a) an error with a real stack trace, raised from a nested function.
    def outer():
        def inner():
            raise ValueError(f"python error {MARKER}")

        inner()

    try:
        outer()
    except ValueError as e:
        error_event_id = sentry_sdk.capture_exception(e)

    # (b) a message.
    message_event_id = sentry_sdk.capture_message(f"python message {MARKER}")

    # (c) a transaction with one child span.
    with sentry_sdk.start_transaction(name="python-transaction", op="test") as transaction:
        with sentry_sdk.start_span(op="test.child", name="python-child-span"):
            pass
    del transaction

    # (d) an event with an attachment, on a forked scope so the attachment is not reused.
    with sentry_sdk.new_scope() as scope:
        scope.add_attachment(bytes=ATTACHMENT_BYTES, filename="python-attachment.bin")
        attachment_event_id = sentry_sdk.capture_message("python message with attachment")

    sentry_sdk.flush(timeout=10)

    ids = {
        "error_event_id": error_event_id,
        "message_event_id": message_event_id,
        "transaction_event_id": transaction_ids[0] if len(transaction_ids) == 1 else None,
        "attachment_event_id": attachment_event_id,
    }
    for key, value in ids.items():
        if not (isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)):
            fail(f"{key} is {value!r}, not a 32-hex event id (event dropped?)")

    failures = [o for o in outcomes if o[1] is not None or not (200 <= o[0] < 300)]
    if failures:
        first = failures[0][1] or f"HTTP status {failures[0][0]}"
        fail(f"{len(failures)} of {len(outcomes)} request(s) failed; first: {first}")
    if len(outcomes) < 4:
        fail(f"only {len(outcomes)} request(s) completed before the flush timeout (expected >= 4)")

    out = dict(ids)
    out.update(
        {
            "sdk_name": "sentry.python",
            "sdk_version": sentry_sdk.VERSION,
            "brotli": uses_brotli,
            "requests": len(outcomes),
        }
    )
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
