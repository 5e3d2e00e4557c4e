// Sends logs with the real @sentry/node SDK, for fake-sentry's log test (tests/logs.rs).
//
// Usage: node logs_node.mjs DSN   (@sentry/node is loaded from SENTRY_NODE_MODULES)
//
// Inside a span, logs "node cart 7 opened" (info, cartId=7) and "node payment failed" (error)
// through Sentry.logger with enableLogs: true, flushes, and prints ONE JSON object:
// {"trace_id"}. Exit status is non-zero when the flush timed out.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

function fail(msg) {
  process.stderr.write(`logs_node.mjs: ${msg}\n`);
  process.exit(1);
}

const [dsn] = process.argv.slice(2);
if (!dsn) fail("usage: node logs_node.mjs DSN");
const here = path.dirname(fileURLToPath(import.meta.url));
const modulesDir = path.resolve(
  process.env.SENTRY_NODE_MODULES || path.join(here, "..", "..", "..", ".clients", "node", "node_modules"),
);
const Sentry = createRequire(path.join(modulesDir, "__resolve_from_here__.js"))("@sentry/node");

Sentry.init({ dsn, tracesSampleRate: 1.0, enableLogs: true, release: "node-logs@1.0.0", environment: "test" });

let traceId;
Sentry.startSpan({ name: "open cart", op: "task" }, (span) => {
  traceId = span.spanContext().traceId;
  Sentry.logger.info("node cart 7 opened", { cartId: 7 });
  Sentry.logger.error("node payment failed");
});

if (!(await Sentry.flush(10000))) fail("flush timed out");
process.stdout.write(JSON.stringify({ trace_id: traceId }) + "\n");
