"""Sends logs with the real Python sentry-sdk, for fake-sentry's log test (tests/logs.rs).

Usage: python logs_python.py DSN

Inside a transaction, logs "python order {order_id} placed" (info, order_id=42) and "python
stock low" (warning) through sentry_sdk.logger with enable_logs=True, flushes, and prints ONE
JSON object: {"trace_id"}.
"""

import json
import sys

import sentry_sdk

if len(sys.argv) != 2:
    sys.exit("usage: logs_python.py DSN")

sentry_sdk.init(
    dsn=sys.argv[1],
    traces_sample_rate=1.0,
    enable_logs=True,
    release="py-logs@1.0.0",
    environment="test",
)

with sentry_sdk.start_transaction(name="place order", op="task") as transaction:
    sentry_sdk.logger.info("python order {order_id} placed", order_id=42)
    sentry_sdk.logger.warning("python stock low")
    trace_id = transaction.trace_id

sentry_sdk.flush(timeout=10)
print(json.dumps({"trace_id": trace_id}), flush=True)
