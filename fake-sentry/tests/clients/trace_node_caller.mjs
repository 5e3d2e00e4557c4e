// The calling side of fake-sentry's distributed-trace test (tests/traces.rs): the real
// @sentry/node SDK runs a transaction "call python" whose fetch to the Python service
// (tests/clients/trace_python_service.py) carries `sentry-trace` and `baggage`, so the
// Python transaction continues this trace.
//
// Usage: node trace_node_caller.mjs DSN URL
// (@sentry/node is loaded from SENTRY_NODE_MODULES, as send_node.mjs does.)
//
// Prints ONE JSON object: {"trace_id", "answer": <the Python service's answer>,
// "requests": N}. Exit status is non-zero when a send failed or the flush timed out.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

function fail(msg) {
  process.stderr.write(`trace_node_caller.mjs: ${msg}\n`);
  process.exit(1);
}

const [dsn, url] = process.argv.slice(2);
if (!dsn || !url) {
  fail("usage: node trace_node_caller.mjs DSN URL");
}
const here = path.dirname(fileURLToPath(import.meta.url));
const modulesDir = path.resolve(
  process.env.SENTRY_NODE_MODULES || path.join(here, "..", "..", "..", ".clients", "node", "node_modules"),
);
const requireFromClients = createRequire(path.join(modulesDir, "__resolve_from_here__.js"));
let Sentry;
try {
  Sentry = requireFromClients("@sentry/node");
} catch (e) {
  fail(`cannot load @sentry/node from ${modulesDir}: ${e.message}`);
}

const outcomes = [];
function recordingTransport(options) {
  const inner = Sentry.makeNodeTransport(options);
  return {
    ...inner,
    send(envelope) {
      return inner.send(envelope).then(
        (response) => {
          outcomes.push({ status: response ? response.statusCode : undefined });
          return response;
        },
        (error) => {
          outcomes.push({ error: String(error) });
          throw error;
        },
      );
    },
    flush(timeout) {
      return inner.flush(timeout);
    },
  };
}

Sentry.init({
  dsn,
  tracesSampleRate: 1.0,
  release: "node-service@1.0.0",
  environment: "test",
  transport: recordingTransport,
  tracePropagationTargets: [/.*/],
});

let traceId;
const answer = await Sentry.startSpan({ name: "call python", op: "function" }, async (span) => {
  traceId = span.spanContext().traceId;
  const response = await fetch(url);
  if (!response.ok) {
    fail(`the Python service answered ${response.status}`);
  }
  return response.json();
});

if (!(await Sentry.flush(10000))) {
  fail("flush timed out");
}
const bad = outcomes.filter((o) => o.error || !(o.status >= 200 && o.status < 300));
if (bad.length > 0) {
  fail(`sends failed: ${JSON.stringify(bad)}`);
}
process.stdout.write(JSON.stringify({ trace_id: traceId, answer, requests: outcomes.length }) + "\n");
