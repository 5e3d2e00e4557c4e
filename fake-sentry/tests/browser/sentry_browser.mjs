// Scenario: the real @sentry/browser SDK, in a page served from a second origin, sends to
// fake-sentry from headless Chromium.
//   node sentry_browser.mjs DSN MARKER_TEXT
//
// A small page script (below) is bundled with esbuild from node_modules (the same directory
// browser.mjs loads playwright-core from) into a temporary directory, and served with the page
// from this script's own HTTP server on 127.0.0.1:0, a different origin from fake-sentry's. The
// page:
//   - Sentry.init({dsn, browserTracingIntegration(), tracesSampleRate: 1.0, ...}), so a session
//     and a `pageload` transaction start at once;
//   - throws Error("browser error MARKER") two functions deep (inner, outer), catches it and
//     captures it; captures the message "browser message MARKER";
//   - runs a span "load-widget" (op ui.widget) around a fetch of /data.json from its own origin
//     (a child span of the pageload, with an http.client span; the server records the
//     sentry-trace and baggage headers the SDK adds);
//   - posts one envelope by hand with Content-Type application/x-sentry-envelope and an
//     X-Sentry-Auth header, neither CORS-safelisted, so Chromium sends a real preflight (what an
//     SDK configured with transport headers needs); the SDK's own posts are simple requests;
//   - throws Error("browser uncaught MARKER") from a setTimeout callback, uncaught, for the SDK's
//     global handlers;
//   - waits (with a deadline) until the SDK reports the pageload transaction and the uncaught
//     error sent (its afterSendEvent hook), then awaits Sentry.flush().
// No fixed sleeps: the pageload ends on the SDK's own idle timeout after the last span.
//
// Prints ONE JSON object (and `watch`, from browser.mjs):
//   {"page_origin", "page": {ids, sent events with their HTTP status, the preflighted post's
//    outcome, the flush result}, "sentry_requests": [every request the page made to fake-sentry:
//    method, url, request headers, status, response headers, failure], "data_request_headers"}
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { run, fail } from "./browser.mjs";

const [dsn, marker] = process.argv.slice(2);
if (!dsn || !marker) fail("usage: sentry_browser.mjs DSN MARKER_TEXT");
const sentryOrigin = new URL(dsn).origin;

const here = path.dirname(fileURLToPath(import.meta.url));
const modules =
  process.env.SENTRY_NODE_MODULES || path.resolve(here, "../../../.clients/node/node_modules");
const require = createRequire(path.join(modules, "noop.js"));
const esbuild = require("esbuild");

// The page's script, bundled with @sentry/browser.
const PAGE_SCRIPT = `
import * as Sentry from "@sentry/browser";

const { dsn, marker } = window.__scenario;
const result = { sent: [], errors: [] };

function deadline(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error("timed out: " + what)), ms));
}
function waitFor(what, predicate) {
  return Promise.race([
    new Promise((resolve) => {
      const check = () => {
        const found = result.sent.find(predicate);
        if (found) resolve(found);
        return found;
      };
      if (!check()) waiters.push(check);
    }),
    deadline(20000, what),
  ]);
}
const waiters = [];

Sentry.init({
  dsn,
  release: "browser-test@1",
  environment: "test",
  integrations: [Sentry.browserTracingIntegration()],
  tracesSampleRate: 1.0,
});
Sentry.getClient().on("afterSendEvent", (event, response) => {
  result.sent.push({
    type: event.type || "event",
    event_id: event.event_id,
    op: (event.contexts && event.contexts.trace && event.contexts.trace.op) || null,
    value: (event.exception && event.exception.values && event.exception.values[0].value) || null,
    status: response && response.statusCode !== undefined ? response.statusCode : null,
  });
  for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]()) waiters.splice(i, 1);
});

function inner() {
  throw new Error("browser error " + marker);
}
function outer() {
  inner();
}

async function main() {
  try {
    outer();
  } catch (error) {
    result.error_event_id = Sentry.captureException(error);
  }
  result.message_event_id = Sentry.captureMessage("browser message " + marker);

  await Sentry.startSpan({ name: "load-widget", op: "ui.widget" }, async () => {
    const response = await fetch("/data.json");
    result.data = await response.json();
  });

  // Not safelisted for CORS: Chromium sends a preflight OPTIONS first.
  const url = new URL(dsn);
  const eventId = crypto.randomUUID().replace(/-/g, "");
  const payload = JSON.stringify({ event_id: eventId, message: "browser preflighted " + marker });
  const body =
    JSON.stringify({ event_id: eventId }) + "\\n" +
    JSON.stringify({ type: "event", length: new TextEncoder().encode(payload).length }) + "\\n" +
    payload + "\\n";
  try {
    const response = await fetch(url.origin + "/api" + url.pathname + "/envelope/", {
      method: "POST",
      headers: {
        "content-type": "application/x-sentry-envelope",
        "x-sentry-auth":
          "Sentry sentry_key=" + url.username + ", sentry_version=7, sentry_client=preflight-test/1.0",
      },
      body,
    });
    result.preflighted = { event_id: eventId, status: response.status, body: await response.text() };
  } catch (error) {
    result.preflighted = { event_id: eventId, error: String(error) };
  }

  setTimeout(() => {
    throw new Error("browser uncaught " + marker);
  });

  await waitFor("the uncaught error", (s) => s.value === "browser uncaught " + marker);
  await waitFor("the pageload transaction", (s) => s.type === "transaction" && s.op === "pageload");
  result.flushed = await Sentry.flush(10000);
}

main().then(
  () => (window.__result = result),
  (error) => {
    result.errors.push(String(error && error.stack ? error.stack : error));
    window.__result = result;
  },
);
`;

function lowerCaseKeys(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "fake-sentry-browser-sdk-"));
let server;
try {
  fs.writeFileSync(path.join(work, "page.js"), PAGE_SCRIPT);
  await esbuild.build({
    entryPoints: [path.join(work, "page.js")],
    outfile: path.join(work, "bundle.js"),
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    nodePaths: [modules],
    logLevel: "error",
  });
  const bundle = fs.readFileSync(path.join(work, "bundle.js"));

  // The second origin: the page, its bundle and the data its span fetches.
  let dataRequestHeaders = null;
  let pageHtml = "";
  server = http.createServer((request, response) => {
    if (request.url === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(pageHtml);
    } else if (request.url === "/bundle.js") {
      response.writeHead(200, { "content-type": "text/javascript" });
      response.end(bundle);
    } else if (request.url === "/favicon.ico") {
      response.writeHead(204);
      response.end();
    } else if (request.url === "/data.json") {
      dataRequestHeaders = request.headers;
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ widget: "ok" }));
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const pageOrigin = `http://127.0.0.1:${server.address().port}`;
  pageHtml =
    "<!doctype html><html><head><title>browser SDK test</title>" +
    `<script>window.__scenario = ${JSON.stringify({ dsn, marker }).replace(/</g, "\\u003c")};</script>` +
    '<script src="/bundle.js"></script></head><body><h1>browser SDK test</h1></body></html>';

  await run(async (page) => {
    const requests = [];
    const settled = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(sentryOrigin + "/")) return;
      const entry = { method: request.method(), url: request.url() };
      requests.push(entry);
      settled.push(
        (async () => {
          entry.request_headers = await request.allHeaders();
          const response = await request.response();
          if (response) {
            entry.status = response.status();
            entry.response_headers = await response.allHeaders();
            await response.finished();
          }
          const failure = request.failure();
          if (failure) entry.failure = failure.errorText;
        })().catch((error) => {
          entry.failure = String(error);
        }),
      );
    });
    // CORS preflights are not page requests to playwright; Chromium's DevTools protocol reports
    // them (initiator type "preflight") with their answers.
    const preflights = new Map();
    const cdp = await page.context().newCDPSession(page);
    cdp.on("Network.requestWillBeSent", (event) => {
      if (event.initiator.type !== "preflight") return;
      if (!event.request.url.startsWith(sentryOrigin + "/")) return;
      preflights.set(event.requestId, {
        method: event.request.method,
        url: event.request.url,
        request_headers: lowerCaseKeys(event.request.headers),
      });
    });
    cdp.on("Network.responseReceived", (event) => {
      const preflight = preflights.get(event.requestId);
      if (!preflight) return;
      preflight.status = event.response.status;
      preflight.response_headers = lowerCaseKeys(event.response.headers);
    });
    cdp.on("Network.loadingFailed", (event) => {
      const preflight = preflights.get(event.requestId);
      if (preflight) preflight.failure = event.errorText;
    });
    await cdp.send("Network.enable");
    await page.goto(`${pageOrigin}/`);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 45000 });
    const result = await page.evaluate(() => window.__result);
    await Promise.all(settled);
    return {
      page_origin: pageOrigin,
      page: result,
      sentry_requests: requests,
      preflights: [...preflights.values()],
      data_request_headers: dataRequestHeaders,
    };
  });
} catch (error) {
  fail(error && error.stack ? error.stack : String(error));
} finally {
  if (server) server.close();
  fs.rmSync(work, { recursive: true, force: true });
}
