"""A tiny web service that reports its errors to Sentry with the real Python SDK.

It stands for the services that use Understudy in their compose files (Socorro, Tecken and Antenna
point SENTRY_DSN at a fake Sentry the same way). Each request to /error raises and captures an
exception; /message captures a message. Both answer with the Sentry event id, so a test can look
the event up in fake-sentry.

  GET /error?message=TEXT     raises RuntimeError(TEXT), captured -> 500 {"event_id": ...}
  GET /message?message=TEXT   sentry_sdk.capture_message(TEXT)   -> 200 {"event_id": ...}
  GET /__lbheartbeat__        200 {} (Dockerflow)

Environment: SENTRY_DSN (required), EXAMPLE_APP_PORT (default 8010), SENTRY_ENVIRONMENT.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import sentry_sdk


class ExampleError(RuntimeError):
    """What /error raises; its type name shows up in the event's summary."""


def raise_and_capture(message):
    try:
        raise ExampleError(message)
    except ExampleError:
        return sentry_sdk.capture_exception()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        message = parse_qs(url.query).get("message", ["example error"])[0]
        if url.path == "/error":
            event_id = raise_and_capture(message)
            self.reply(500, {"event_id": event_id})
        elif url.path == "/message":
            event_id = sentry_sdk.capture_message(message, level="error")
            self.reply(200, {"event_id": event_id})
        elif url.path == "/__lbheartbeat__":
            self.reply(200, {})
        else:
            self.reply(404, {"error": f"no route {url.path}"})

    def reply(self, status, body):
        # The event must be on the wire before the caller looks for it in fake-sentry.
        if "event_id" in body:
            sentry_sdk.flush(timeout=5)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        # Heartbeats every second would drown the log.
        if not self.path.startswith("/__lbheartbeat__"):
            super().log_message(format, *args)


def main():
    dsn = os.environ.get("SENTRY_DSN")
    if not dsn:
        sys.exit("example-app: SENTRY_DSN is not set")
    sentry_sdk.init(
        dsn=dsn,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "compose"),
        release="understudy-example-app@1",
        # Events only: no sessions or traces, so a test can count exactly what it asked for.
        auto_session_tracking=False,
        traces_sample_rate=0,
    )
    port = int(os.environ.get("EXAMPLE_APP_PORT", "8010"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"example-app listening on :{port}, sending to {dsn}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
