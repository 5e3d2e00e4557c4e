// Scenario: /logs lists log entries, filters them with the form, and shows a new matching
// entry at the top without a reload (a non-matching one stays out); then a screenshot.
//   node logs.mjs BASE_URL OUT_DIR
import path from "node:path";
import { run, fail } from "./browser.mjs";

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) fail("usage: logs.mjs BASE_URL OUT_DIR");

async function sendLog(level, body) {
  const payload = JSON.stringify({
    items: [{ timestamp: Date.now() / 1000, level, body, trace_id: "0af7651916cd43dd8448eb211c80319c",
              attributes: { "service.name": { value: "orders", type: "string" } } }],
  });
  const envelope = JSON.stringify({ sdk: { name: "sentry.python", version: "2.75.0" } }) + "\n" +
    JSON.stringify({ type: "log", length: Buffer.byteLength(payload), item_count: 1,
                     content_type: "application/vnd.sentry.items.log+json" }) + "\n" + payload + "\n";
  const response = await fetch(`${base}/api/1/envelope/`, {
    method: "POST",
    headers: { "x-sentry-auth": "Sentry sentry_key=public, sentry_version=7, sentry_client=ui-test/1.0" },
    body: envelope,
  });
  if (!response.ok) throw new Error(`sending a log answered ${response.status}`);
}

const bodies = (page) => page.$$eval("#log-rows td.log-body .body", (cells) => cells.map((c) => c.textContent));

await run(async (page) => {
  await page.goto(`${base}/logs`);
  const all = await bodies(page);
  await page.selectOption("select[name=min_level]", "warn");
  await Promise.all([page.waitForNavigation(), page.click("#log-filters button[type=submit]")]);
  await page.evaluate(() => (window.__sameDocument = true));
  await page.waitForFunction(() => document.querySelector("#log-live")?.dataset.state === "live");
  const filtered = await bodies(page);
  await sendLog("info", "live info stays out");
  await sendLog("error", "live error arrives");
  await page.locator("#log-rows .body", { hasText: "live error arrives" }).waitFor();
  const after = await bodies(page);
  await page.locator("#log-rows details.attributes").first().click();
  const shot = path.join(outDir, "logs.png");
  await page.screenshot({ path: shot });
  return {
    all,
    filtered,
    after,
    url: page.url(),
    trace_href: await page.getAttribute("#log-rows a.trace-link", "href"),
    same_document: await page.evaluate(() => window.__sameDocument === true),
    shot,
  };
});
