// Shared set-up for fake-sentry's web UI scenarios: launches Debian's headless Chromium through
// playwright-core with a fresh profile, and records what would betray an injection (dialogs,
// page errors, CSP violations, console errors).
//
// playwright-core is loaded (CommonJS build, via createRequire) from SENTRY_NODE_MODULES when set,
// else from <repo>/.clients/node/node_modules (what scripts/setup-test-clients installs). The
// browser is CHROMIUM_PATH when set, else /usr/bin/chromium.
//
// Every scenario prints ONE JSON object on stdout (what it observed; the Rust test asserts on it)
// and exits non-zero with a message on stderr when it could not run.

import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules =
  process.env.SENTRY_NODE_MODULES || path.resolve(here, "../../../.clients/node/node_modules");
const require = createRequire(path.join(modules, "noop.js"));
const { chromium } = require("playwright-core");

export const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function fail(message) {
  process.stderr.write(`${path.basename(process.argv[1])}: ${message}\n`);
  process.exit(1);
}

/// Runs `scenario(page, watch)` in a fresh browser and prints what it returns as JSON.
export async function run(scenario) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "fake-sentry-ui-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      headless: true,
      // The fresh profile directory is Chromium's --user-data-dir (playwright passes it).
      args: FLAGS,
      viewport: { width: 1440, height: 900 },
    });
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(20000);
    const watch = { dialogs: [], pageErrors: [], cspViolations: [], consoleErrors: [] };
    page.on("dialog", async (dialog) => {
      watch.dialogs.push(dialog.message());
      await dialog.dismiss().catch(() => {});
    });
    page.on("pageerror", (error) => watch.pageErrors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") watch.consoleErrors.push(message.text());
    });
    // Registered before any page script: reports CSP violations to the test.
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const result = await scenario(page, watch);
    process.stdout.write(JSON.stringify({ ...result, watch }) + "\n");
  } catch (error) {
    fail(error && error.stack ? error.stack : String(error));
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/// Texts of the summary cells of the list, top to bottom.
export async function listSummaries(page) {
  return page.$$eval("#rows td.summary a", (links) => links.map((a) => a.textContent));
}

/// Posts one event envelope to `base` (project `project`) with Node's fetch.
export async function sendEvent(base, event, project = 1) {
  const payload = JSON.stringify(event);
  const body =
    JSON.stringify({ event_id: event.event_id }) +
    "\n" +
    JSON.stringify({ type: "event", length: Buffer.byteLength(payload) }) +
    "\n" +
    payload +
    "\n";
  const response = await fetch(`${base}/api/${project}/envelope/`, {
    method: "POST",
    headers: {
      "content-type": "application/x-sentry-envelope",
      "x-sentry-auth": "Sentry sentry_key=public, sentry_version=7, sentry_client=ui-test/1.0",
    },
    body,
  });
  if (!response.ok) throw new Error(`sending an event answered ${response.status}`);
}
