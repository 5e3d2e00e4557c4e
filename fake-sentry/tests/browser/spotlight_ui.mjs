// Scenario: the real Spotlight UI (@spotlightjs/spotlight's built UI, unchanged) reads
// fake-sentry's /stream in headless Chromium.
//
// Spotlight's sidecar serves its UI (dist/ui in the npm package) and tells it its own port in a
// `Server-Timing: sentrySpotlightPort;desc=PORT` header on the page; the UI then reads
// `http://localhost:PORT/stream?base64=1&client=spotlight-ui` with an EventSource (it falls back
// to port 8969 without the header). This script serves the same files from its own HTTP server
// on 127.0.0.1:0 with that header naming fake-sentry's port, opens the UI at
// http://localhost:<its port>/ (the UI's Content-Security-Policy lets it connect to
// http://localhost:* only), opens its Errors tab and waits (with a deadline) until each TEXT is
// shown there. Then, for each TRANSACTION CHILD_SPAN pair after `--traces`, it opens the Traces
// tab, waits for a trace named TRANSACTION, opens it and waits for CHILD_SPAN in its waterfall.
// Requests leaving loopback (the UI's own telemetry to sentry.io) are aborted.
//   node spotlight_ui.mjs FAKE_SENTRY_URL TEXT... [--traces TRANSACTION CHILD_SPAN...]
//
// Prints ONE JSON object (and `watch`, from browser.mjs):
//   {"ui_url", "sidecar_port", "found": {TEXT: bool}, "errors_text": the Errors tab's text,
//    "traces": {TRANSACTION: {"listed", "list_text", "opened_url", "child_shown"}},
//    "stream_requests": [{url, status, response_headers, failure}] for every request to /stream,
//    "other_requests": [{method, url, status, failure}] for every other request to fake-sentry}
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { run, fail } from "./browser.mjs";

const [base, ...rest] = process.argv.slice(2);
const split = rest.indexOf("--traces");
const texts = split < 0 ? rest : rest.slice(0, split);
const tracePairs = split < 0 ? [] : rest.slice(split + 1);
if (!base || texts.length === 0 || tracePairs.length % 2 !== 0) {
  fail("usage: spotlight_ui.mjs FAKE_SENTRY_URL TEXT... [--traces TRANSACTION CHILD_SPAN...]");
}
const traces = [];
for (let i = 0; i < tracePairs.length; i += 2) traces.push({ name: tracePairs[i], child: tracePairs[i + 1] });
const sidecarPort = new URL(base).port;

const here = path.dirname(fileURLToPath(import.meta.url));
const modules =
  process.env.SENTRY_NODE_MODULES || path.resolve(here, "../../../.clients/node/node_modules");
const uiDir = path.join(modules, "@spotlightjs/spotlight/dist/ui");
if (!fs.existsSync(path.join(uiDir, "index.html"))) fail(`no Spotlight UI in ${uiDir}`);

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
};

// Spotlight's files; any other path is the single-page app's index.html, as the sidecar serves it.
const server = http.createServer((request, response) => {
  const pathname = decodeURIComponent(new URL(request.url, "http://localhost").pathname);
  let file = path.join(uiDir, path.normalize(pathname));
  if (!file.startsWith(uiDir + path.sep) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
    file = path.join(uiDir, "index.html");
  }
  response.writeHead(200, {
    "content-type": TYPES[path.extname(file)] || "application/octet-stream",
    "server-timing": `sentrySpotlightPort;desc=${sidecarPort}`,
  });
  fs.createReadStream(file).pipe(response);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const uiUrl = `http://localhost:${server.address().port}/`;

try {
  await run(async (page) => {
    const streamRequests = [];
    const otherRequests = [];
    const isSidecar = (url) =>
      ["localhost", "127.0.0.1"].includes(url.hostname) && url.port === sidecarPort;
    await page.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (["localhost", "127.0.0.1"].includes(url.hostname)) return route.continue();
      return route.abort();
    });
    page.on("response", (response) => {
      const url = new URL(response.url());
      if (!isSidecar(url)) return;
      const entry = { method: response.request().method(), url: url.href, status: response.status() };
      if (url.pathname === "/stream") {
        streamRequests.push({ ...entry, response_headers: response.headers() });
      } else {
        otherRequests.push(entry);
      }
    });
    page.on("requestfailed", (request) => {
      const url = new URL(request.url());
      if (!isSidecar(url)) return;
      const entry = { method: request.method(), url: url.href, failure: request.failure()?.errorText };
      (url.pathname === "/stream" ? streamRequests : otherRequests).push(entry);
    });

    await page.goto(uiUrl);
    // The UI redirects / to /telemetry (its Traces tab); the errors are on the Errors tab.
    await page.getByRole("link", { name: /^Errors/ }).first().click();
    const found = {};
    for (const text of texts) {
      found[text] = await page
        .getByText(text, { exact: false })
        .first()
        .waitFor({ state: "visible", timeout: 20000 })
        .then(() => true, () => false);
    }
    const errorsText = await page.evaluate(() => document.body.innerText);

    // The Traces tab: one row per trace, named by its root transaction; a click opens the
    // trace's waterfall (at /telemetry/traces/TRACE_ID), which shows the child span.
    const tracesSeen = {};
    for (const { name, child } of traces) {
      await page.getByRole("link", { name: /^Traces/ }).first().click();
      const seen = { listed: false, opened_url: null, child_shown: false };
      tracesSeen[name] = seen;
      const row = page.getByText(name, { exact: true }).first();
      seen.listed = await row.waitFor({ state: "visible", timeout: 20000 }).then(() => true, () => false);
      if (!seen.listed) continue;
      seen.list_text = await page.evaluate(() => document.body.innerText);
      await row.click();
      seen.child_shown = await page
        .getByText(child, { exact: false })
        .first()
        .waitFor({ state: "visible", timeout: 20000 })
        .then(() => true, () => false);
      seen.opened_url = page.url();
    }
    return {
      traces: tracesSeen,
      ui_url: uiUrl,
      sidecar_port: sidecarPort,
      page_url: page.url(),
      found,
      errors_text: errorsText,
      stream_requests: streamRequests,
      other_requests: otherRequests,
    };
  });
} finally {
  server.close();
}
