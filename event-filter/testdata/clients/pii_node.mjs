// Send test events with planted (fake) personal data and secrets through the real @sentry/node SDK.
//
// Usage:
//   node pii_node.mjs DSN
//
// @sentry/node (10.78.0) is loaded, CommonJS build via createRequire, from the node_modules
// directory named by SENTRY_NODE_MODULES, default <repo>/.clients/node/node_modules (what
// scripts/setup-test-clients installs), derived from this file's location
// (<repo>/event-filter/testdata/clients/pii_node.mjs).
//
// Init: sendDefaultPii: true, includeLocalVariables: true. Scope: setUser({id, email, ip_address,
// username}) and a breadcrumb whose message holds an email and an IP. Then two caught errors, each
// captured with Sentry.captureException, each its own envelope:
//
//   pii:     Error("charge failed for jane.doe@example.com card 4111111111111111") thrown from
//            chargeCard(), whose locals are `password` (a password) and `token` (a Slack bot token).
//   renamed: the same error thrown from chargeCardRenamed(), whose locals hold the same secrets
//            under names no SDK deny-list matches (`pass`, `slack`).
//
// The SDK itself replaces frame variables whose *name* contains a sensitive snippet ("password",
// "token", "key", "auth", ...: @sentry/core SENSITIVE_KEY_SNIPPETS) with "[Filtered]", so in the
// "pii" event the two locals reach the wire as "[Filtered]" (their values still appear in the
// frame's pre_context source lines). The "renamed" event carries the raw values in `vars`.
//
// Prints ONE JSON object on stdout:
//   {"pii_event_id", "renamed_event_id", "sdk_name", "sdk_version", "requests"}
// Exit status is non-zero if a capture was dropped, an envelope failed or got a non-2xx answer, or
// the flush timed out. All personal data and secrets are fake.

import { createRequire } from "node:module";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

function fail(msg) {
  process.stderr.write(`pii_node.mjs: ${msg}\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.length !== 1 || args[0].startsWith("-")) {
  fail("usage: node pii_node.mjs DSN   (env SENTRY_NODE_MODULES=<dir>/node_modules, optional)");
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

// Record every envelope's outcome so a failed send is an error, not a silent drop.
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
  sendDefaultPii: true,
  includeLocalVariables: true,
  release: "pii-test@1",
  environment: "test",
  transport: recordingTransport,
});

// The local-variables integration (Node >= 19) starts an inspector session in a worker thread
// asynchronously; exceptions thrown before it is attached carry no `vars`.
await sleep(1500);

Sentry.setUser({
  id: "42",
  email: "jane.doe@example.com",
  ip_address: "203.0.113.7",
  username: "jdoe",
});
Sentry.addBreadcrumb({
  category: "auth",
  message: "login from 198.51.100.23 by jane.doe@example.com",
  level: "info",
});

// Each function throws itself (no helper taking the secrets as parameters), so the only frame with
// `vars` is the one holding the two planted locals; they are used in the throw so V8 keeps them.
function chargeCard() {
  const password = "hunter2";
  const token = "xoxb-" + "2048163512-4096327024-Zq7Rk3Ws9Lp1Xv5Tn8Bc2Hd6";
  if (password && token) {
    throw new Error("charge failed for jane.doe@example.com card 4111111111111111");
  }
}

function chargeCardRenamed() {
  const pass = "hunter2";
  const slack = "xoxb-" + "2048163512-4096327024-Zq7Rk3Ws9Lp1Xv5Tn8Bc2Hd6";
  if (pass && slack) {
    throw new Error("charge failed for jane.doe@example.com card 4111111111111111");
  }
}

let piiEventId;
try {
  chargeCard();
} catch (e) {
  piiEventId = Sentry.captureException(e);
}

let renamedEventId;
try {
  chargeCardRenamed();
} catch (e) {
  renamedEventId = Sentry.captureException(e);
}

const flushed = await Sentry.flush(10000);
if (!flushed) {
  fail("Sentry.flush(10000) timed out");
}

const ids = { pii_event_id: piiEventId, renamed_event_id: renamedEventId };
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

const out = {
  ...ids,
  sdk_name: "sentry.javascript.node",
  sdk_version: Sentry.SDK_VERSION,
  requests: outcomes.length,
};
// Exit explicitly: the inspector worker and other SDK handles may keep the loop alive.
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
