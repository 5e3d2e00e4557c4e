// Drive the real @sentry/node SDK in Spotlight mode, for fake-sentry's Spotlight tests.
//
// Usage:
//   node spotlight_node.mjs SPOTLIGHT_URL [--dsn DSN]
//
// `Sentry.init({ spotlight: SPOTLIGHT_URL, dsn: DSN })`: @sentry/node adds its Spotlight
// integration, which posts every envelope the client sends (its `beforeEnvelope` hook) to
// SPOTLIGHT_URL, uncompressed and chunked; with a DSN the usual transport sends a second copy.
// Without a DSN the client has no transport, but the integration still runs.
//
// @sentry/node is loaded as send_node.mjs loads it: from SENTRY_NODE_MODULES, else
// <repo>/.clients/node/node_modules.
//
// It sends, each as its own envelope:
//   (a) an error: Error("node spotlight error <marker>") thrown in a nested function, caught,
//       captured;
//   (b) a transaction "node-spotlight-transaction" (Sentry.startSpan) with one child span;
// then awaits Sentry.flush(10000), the transaction (without a DSN the flush does not wait for
// events being processed) and every POST to SPOTLIGHT_URL (the integration does not wait for its
// own requests, so flush does not either), and prints ONE JSON object on stdout:
//   {"error_event_id", "transaction_event_id", "spotlight_statuses": [HTTP status per POST]}
//
// Exit status is non-zero if a capture was dropped or a POST to SPOTLIGHT_URL failed or was
// answered with a non-2xx status (the integration only counts failures, silently).

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MARKER = "understudy-marker-7f3c";
const USAGE = "usage: node spotlight_node.mjs SPOTLIGHT_URL [--dsn DSN]";

function fail(msg) {
  process.stderr.write(`spotlight_node.mjs: ${msg}\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
let dsn;
const positional = [];
while (args.length > 0) {
  const arg = args.shift();
  if (arg === "--dsn" && args.length > 0) {
    dsn = args.shift();
  } else if (arg.startsWith("-")) {
    fail(`unknown option ${arg}\n${USAGE}`);
  } else {
    positional.push(arg);
  }
}
if (positional.length !== 1) {
  fail(USAGE);
}
const spotlightUrl = new URL(positional[0]);

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

// The integration calls `http.request` of `node:http` when it sends, so wrapping it here sees
// every POST to Spotlight (and only those are counted: the DSN transport goes elsewhere).
const require = createRequire(import.meta.url);
const http = require("node:http");
const originalRequest = http.request;
const posts = [];
const answers = [];
http.request = function recordingRequest(options, callback) {
  const toSpotlight =
    typeof options === "object" &&
    !(options instanceof URL) &&
    options.path === spotlightUrl.pathname &&
    String(options.port) === spotlightUrl.port;
  if (!toSpotlight) {
    return originalRequest.apply(this, arguments);
  }
  const post = { answered: false };
  posts.push(post);
  const settle = (answer) => {
    if (!post.answered) {
      post.answered = true;
      answers.push(answer);
    }
  };
  const request = originalRequest.call(this, options, (response) => {
    response.on("end", () => settle({ status: response.statusCode }));
    if (callback) {
      callback(response);
    } else {
      response.resume();
    }
  });
  request.on("error", (error) => settle({ error: String(error) }));
  return request;
};

const transactionIds = [];
Sentry.init({
  dsn,
  spotlight: spotlightUrl.href,
  tracesSampleRate: 1.0,
  // Fixed values so nothing depends on the machine's git checkout or environment variables.
  release: "understudy-test@1.0.0",
  environment: "test",
  beforeSendTransaction(event) {
    transactionIds.push(event.event_id);
    return event;
  },
});

function outer() {
  function inner() {
    throw new Error(`node spotlight error ${MARKER}`);
  }
  inner();
}
let errorEventId;
try {
  outer();
} catch (e) {
  errorEventId = Sentry.captureException(e);
}

Sentry.startSpan({ name: "node-spotlight-transaction", op: "test" }, () => {
  Sentry.startSpan({ name: "node-spotlight-child-span", op: "test.child" }, () => {});
});

if (!(await Sentry.flush(10000))) {
  fail("Sentry.flush(10000) timed out");
}
// Without a DSN the client has no transport and its flush returns without waiting for events
// still being processed, so wait (up to 10 s) for the transaction to be processed and for the
// posts to Spotlight (which nothing waits for, with or without a DSN) to be answered.
const deadline = Date.now() + 10000;
while (transactionIds.length === 0 || posts.length < 2 || answers.length < posts.length) {
  if (Date.now() > deadline) {
    fail(`after 10 s: ${transactionIds.length} transaction(s), ${posts.length} post(s) to Spotlight`);
  }
  // A timer, not a microtask, so the SDK's I/O runs meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 10));
}

const ids = {
  error_event_id: errorEventId,
  transaction_event_id: transactionIds.length === 1 ? transactionIds[0] : null,
};
for (const [key, value] of Object.entries(ids)) {
  if (typeof value !== "string" || !/^[0-9a-f]{32}$/.test(value)) {
    fail(`${key} is ${JSON.stringify(value)}, not a 32-hex event id (event dropped?)`);
  }
}
const statuses = answers.map((s) => s.status ?? s.error);
if (statuses.length < 2 || statuses.some((s) => !(s >= 200 && s < 300))) {
  fail(`posts to ${spotlightUrl.href}: ${JSON.stringify(statuses)} (expected at least 2, all 2xx)`);
}

const out = { ...ids, spotlight_statuses: statuses };
// Exit explicitly: SDK integrations may keep handles open. Write first, exit in the callback.
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
