// Drive the real @sentry/node SDK against a DSN, for fake-sentry's real-client tests.
//
// Usage:
//   node send_node.mjs DSN
//
// @sentry/node is loaded (CommonJS build, via createRequire) from the directory named by the
// environment variable SENTRY_NODE_MODULES, which must be a node_modules directory. When it is
// unset, the default is <repo>/.clients/node/node_modules, derived from this file's location
// (<repo>/fake-sentry/tests/clients/send_node.mjs), i.e. what scripts/setup-test-clients installs.
// The working directory does not matter; NODE_PATH is not used (ESM imports ignore it).
//
// It sends, each as its own envelope (plus whatever the SDK adds by default, e.g. sessions):
//   (a) an error: Error("node error <marker>") thrown in a nested function, caught, captured;
//   (b) captureMessage("node message <marker>");
//   (c) a transaction "node-transaction" (Sentry.startSpan) with one child span "node-child-span";
//   (d) captureMessage("node message with attachment") with the attachment node-attachment.bin;
// then awaits Sentry.flush(10000) and prints ONE JSON object on stdout:
//   {"error_event_id", "message_event_id", "transaction_event_id", "attachment_event_id",
//    "sdk_name": "sentry.javascript.node", "sdk_version", "brotli": false, "requests": N}
//
// Exit status is non-zero if any capture was dropped, any envelope failed to send or was answered
// with a non-2xx status, or the flush timed out.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MARKER = "understudy-marker-7f3c";
const ATTACHMENT_BYTES = new Uint8Array([
  ...new TextEncoder().encode("attachment-bytes"),
  0x00,
  0x01,
]);

function fail(msg) {
  process.stderr.write(`send_node.mjs: ${msg}\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.length !== 1 || args[0].startsWith("-")) {
  fail("usage: node send_node.mjs DSN   (env SENTRY_NODE_MODULES=<dir>/node_modules, optional)");
}
const dsn = args[0];

const here = path.dirname(fileURLToPath(import.meta.url));
const modulesDir = path.resolve(
  process.env.SENTRY_NODE_MODULES || path.join(here, "..", "..", "..", ".clients", "node", "node_modules"),
);
const requireFromClients = createRequire(path.join(modulesDir, "__resolve_from_here__.js"));
let Sentry;
try {
  Sentry = requireFromClients("@sentry/node");
} catch (e) {
  fail(`cannot load @sentry/node from ${modulesDir} (run scripts/setup-test-clients): ${e.message}`);
}

// Record the outcome of every envelope the SDK's (unchanged) default transport sends, so this
// script can fail loudly instead of the SDK silently dropping.
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

const transactionIds = [];

Sentry.init({
  dsn,
  tracesSampleRate: 1.0,
  debug: false,
  // Fixed values so nothing depends on the machine's git checkout or environment variables.
  release: "understudy-test@1.0.0",
  environment: "test",
  transport: recordingTransport,
  beforeSendTransaction(event) {
    transactionIds.push(event.event_id);
    return event;
  },
});

// (a) an error with a real stack trace, thrown from a nested function.
function outer() {
  function inner() {
    throw new Error(`node error ${MARKER}`);
  }
  inner();
}
let errorEventId;
try {
  outer();
} catch (e) {
  errorEventId = Sentry.captureException(e);
}

// (b) a message.
const messageEventId = Sentry.captureMessage(`node message ${MARKER}`);

// (c) a transaction (root span) with one child span.
Sentry.startSpan({ name: "node-transaction", op: "test" }, () => {
  Sentry.startSpan({ name: "node-child-span", op: "test.child" }, () => {});
});

// (d) an event with an attachment.
let attachmentEventId;
Sentry.withScope((scope) => {
  scope.addAttachment({ filename: "node-attachment.bin", data: ATTACHMENT_BYTES });
  attachmentEventId = Sentry.captureMessage("node message with attachment");
});

const flushed = await Sentry.flush(10000);
if (!flushed) {
  fail("Sentry.flush(10000) timed out");
}

const ids = {
  error_event_id: errorEventId,
  message_event_id: messageEventId,
  transaction_event_id: transactionIds.length === 1 ? transactionIds[0] : null,
  attachment_event_id: attachmentEventId,
};
for (const [key, value] of Object.entries(ids)) {
  if (typeof value !== "string" || !/^[0-9a-f]{32}$/.test(value)) {
    fail(`${key} is ${JSON.stringify(value)}, not a 32-hex event id (event dropped?)`);
  }
}
const failures = outcomes.filter(
  (o) => o.error !== undefined || o.status === undefined || o.status < 200 || o.status >= 300,
);
if (failures.length > 0) {
  const first = failures[0].error ?? `HTTP status ${failures[0].status}`;
  fail(`${failures.length} of ${outcomes.length} envelope(s) failed; first: ${first}`);
}
if (outcomes.length < 4) {
  fail(`only ${outcomes.length} envelope(s) sent (expected >= 4)`);
}

const out = {
  ...ids,
  sdk_name: "sentry.javascript.node",
  sdk_version: Sentry.SDK_VERSION,
  brotli: false,
  requests: outcomes.length,
};
// Exit explicitly: SDK integrations may keep handles open. Write first, exit in the callback.
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
