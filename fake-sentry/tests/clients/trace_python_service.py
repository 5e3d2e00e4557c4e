"""A tiny HTTP service instrumented with the real Python sentry-sdk, for fake-sentry's
distributed-trace test (tests/traces.rs).

Usage: python trace_python_service.py DSN

It listens on 127.0.0.1 (a free port), prints {"port": N} on stdout, and serves ONE request to
GET /work: it continues the caller's trace from the incoming `sentry-trace` and `baggage`
headers (sentry_sdk.continue_trace), runs a transaction "GET /work" with one child span
"SELECT work", logs through sentry_sdk.logger (enable_logs=True) inside both, and captures a
ValueError. It answers the caller with the headers it received, flushes, and prints ONE more
JSON object: {"error_event_id", "trace_id", "transaction_span_id", "parent_span_id",
"sentry_trace", "baggage"}. Exit status is non-zero when no request was served.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import sentry_sdk

if len(sys.argv) != 2:
    sys.exit("usage: trace_python_service.py DSN")

sentry_sdk.init(
    dsn=sys.argv[1],
    traces_sample_rate=1.0,
    enable_logs=True,
    release="python-service@2.0.0",
    environment="test",
)

result = {}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # keep stdout for the JSON lines
        pass

    def do_GET(self):
        headers = {k.lower(): v for k, v in self.headers.items()}
        transaction = sentry_sdk.continue_trace(
            headers, op="http.server", name="GET /work", source="route"
        )
        with sentry_sdk.start_transaction(transaction):
            sentry_sdk.logger.info("python service handling {path}", path=self.path)
            with sentry_sdk.start_span(op="db.query", name="SELECT work"):
                sentry_sdk.logger.warning("python service inside the query")
            try:
                raise ValueError("python service failed")
            except ValueError as e:
                error_event_id = sentry_sdk.capture_exception(e)
            result.update(
                error_event_id=error_event_id,
                trace_id=transaction.trace_id,
                transaction_span_id=transaction.span_id,
                parent_span_id=transaction.parent_span_id,
                sentry_trace=headers.get("sentry-trace"),
                baggage=headers.get("baggage"),
            )
            body = json.dumps(result).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


server = HTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
server.handle_request()
server.server_close()
sentry_sdk.flush(timeout=10)
if not result:
    sys.exit("no request was served")
print(json.dumps(result), flush=True)
