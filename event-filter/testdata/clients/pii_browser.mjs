// Send a test event with planted (fake) personal data and secrets through the real @sentry/browser
// SDK, from a page in headless Chromium.
//
// Usage:
//   node pii_browser.mjs DSN
//
// @sentry/browser (10.78.0), esbuild and playwright-core are loaded from the node_modules directory
// named by SENTRY_NODE_MODULES, default <repo>/.clients/node/node_modules (what
// scripts/setup-test-clients installs), derived from this file's location
// (<repo>/event-filter/testdata/clients/pii_browser.mjs). The browser is CHROMIUM_PATH, default
// /usr/bin/chromium (Debian's).
//
// The page script below is bundled with esbuild into a temporary directory and served, with the
// page, from this script's own HTTP server on 127.0.0.1 (a free port), so the page's origin is not
// the DSN's. The page is opened at /checkout?token=abc123&contact=jane.doe@example.com, which the
// SDK reports as request.url.
//
// Init: sendDefaultPii: true (defaults otherwise; no tracing). Scope: setUser({id, email,
// ip_address: "{{auto}}", username}) (the SDK sends "{{auto}}" for Sentry to fill in from the
// connection), a breadcrumb whose message holds an email and an IP, and two extras: `note` (an
// email and an IP) and `api_token` (a GitHub token). Then one caught error, captured with
// Sentry.captureException:
//
//   Error("charge failed for jane.doe@example.com card 4111 1111 1111 1111") thrown from
//   chargeCard().
//
// The SDK's own filtering at its defaults: in request.url it replaces the value of each query
// parameter whose *name* contains a sensitive snippet ("token", "auth", "key", "session", ...:
// @sentry/core SENSITIVE_KEY_SNIPPETS) with "[Filtered]", so `token=abc123` reaches the wire as
// `token=[Filtered]` and `contact=jane.doe@example.com` raw. Nothing else is filtered (extras,
// user, breadcrumbs and the exception are sent as set), and no `_meta` is written.
//
// Prints ONE JSON object on stdout:
//   {"pii_event_id", "sdk_name", "sdk_version", "page_origin", "requests"}
// Exit status is non-zero if the capture was dropped, a request to the DSN failed or got a non-2xx
// answer, the flush timed out, or the page logged an error. All personal data and secrets are fake.

import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

function fail(msg) {
  process.stderr.write(`pii_browser.mjs: ${msg}\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.length !== 1 || args[0].startsWith("-")) {
  fail("usage: node pii_browser.mjs DSN   (env SENTRY_NODE_MODULES=<dir>/node_modules, CHROMIUM_PATH, optional)");
}
const dsn = args[0];
const dsnOrigin = new URL(dsn).origin;

const here = path.dirname(fileURLToPath(import.meta.url));
const modulesDir = path.resolve(
  process.env.SENTRY_NODE_MODULES || path.join(here, "..", "..", "..", ".clients", "node", "node_modules"),
);
const requireFromClients = createRequire(path.join(modulesDir, "__resolve_from_here__.js"));
let esbuild, chromium, sdkVersion;
try {
  esbuild = requireFromClients("esbuild");
  ({ chromium } = requireFromClients("playwright-core"));
  sdkVersion = requireFromClients("@sentry/browser/package.json").version;
} catch (e) {
  fail(`cannot load esbuild, playwright-core and @sentry/browser from ${modulesDir} (run scripts/setup-test-clients): ${e.message}`);
}

const PAGE_SCRIPT = `
import * as Sentry from "@sentry/browser";

Sentry.init({
  dsn: window.__dsn,
  sendDefaultPii: true,
  release: "pii-test@1",
  environment: "test",
});

Sentry.setUser({
  id: "42",
  email: "jane.doe@example.com",
  ip_address: "{{auto}}",
  username: "jdoe",
});
Sentry.addBreadcrumb({
  category: "auth",
  message: "login from 198.51.100.23 by jane.doe@example.com",
  level: "info",
});
Sentry.setExtra("note", "billing contact jane.doe@example.com, last seen from 192.0.2.44");
Sentry.setExtra("api_token", "ghp_" + "R8xKq2LmN4vT7wZ1pC9sD3fH6jY0bA5eG2uQ");

function chargeCard() {
  throw new Error("charge failed for jane.doe@example.com card 4111 1111 1111 1111");
}

const result = { errors: [] };
try {
  chargeCard();
} catch (e) {
  result.pii_event_id = Sentry.captureException(e);
}
Sentry.flush(10000).then(
  (flushed) => {
    result.flushed = flushed;
    window.__result = result;
  },
  (error) => {
    result.errors.push(String(error));
    window.__result = result;
  },
);
`;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "pii-browser-"));
let server;
let context;
let exitCode = 0;
try {
  fs.writeFileSync(path.join(work, "page.js"), PAGE_SCRIPT);
  await esbuild.build({
    entryPoints: [path.join(work, "page.js")],
    outfile: path.join(work, "bundle.js"),
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    nodePaths: [modulesDir],
    logLevel: "error",
  });
  const bundle = fs.readFileSync(path.join(work, "bundle.js"));
  const html =
    "<!doctype html><html><head><title>checkout</title>" +
    `<script>window.__dsn = ${JSON.stringify(dsn).replace(/</g, "\\u003c")};</script>` +
    '<script src="/bundle.js"></script></head><body><h1>checkout</h1></body></html>';
  server = http.createServer((request, response) => {
    const url = new URL(request.url, "http://page");
    if (url.pathname === "/checkout") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(html);
    } else if (url.pathname === "/bundle.js") {
      response.writeHead(200, { "content-type": "text/javascript" });
      response.end(bundle);
    } else {
      response.writeHead(url.pathname === "/favicon.ico" ? 204 : 404);
      response.end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const pageOrigin = `http://127.0.0.1:${server.address().port}`;

  const profile = path.join(work, "profile");
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  const requests = [];
  const settled = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(dsnOrigin + "/")) return;
    const entry = { url: request.url() };
    requests.push(entry);
    settled.push(
      request.response().then(
        (response) => {
          entry.status = response ? response.status() : null;
        },
        (error) => {
          entry.error = String(error);
        },
      ),
    );
  });
  await page.goto(`${pageOrigin}/checkout?token=abc123&contact=jane.doe@example.com`);
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 20000 });
  const result = await page.evaluate(() => window.__result);
  await Promise.all(settled);

  if (result.errors.length > 0) throw new Error(`the page failed: ${result.errors.join("; ")}`);
  if (result.flushed !== true) throw new Error("Sentry.flush(10000) timed out");
  if (typeof result.pii_event_id !== "string" || !/^[0-9a-f]{32}$/.test(result.pii_event_id)) {
    throw new Error(`pii_event_id is ${JSON.stringify(result.pii_event_id)}, not a 32-hex event id (event dropped?)`);
  }
  const failures = requests.filter((r) => !(r.status >= 200 && r.status < 300));
  if (requests.length === 0 || failures.length > 0) {
    throw new Error(`requests to the DSN: ${JSON.stringify(requests)}`);
  }
  if (problems.length > 0) throw new Error(problems.join("; "));
  process.stdout.write(
    JSON.stringify({
      pii_event_id: result.pii_event_id,
      sdk_name: "sentry.javascript.browser",
      sdk_version: sdkVersion,
      page_origin: pageOrigin,
      requests: requests.length,
    }) + "\n",
  );
} catch (error) {
  process.stderr.write(`pii_browser.mjs: ${error && error.message ? error.message : error}\n`);
  exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  if (server) server.close();
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
