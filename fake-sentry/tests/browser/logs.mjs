// Scenario: /logs lists log entries and filters them with its form: each filter (level, at
// least a level, service, trace, since/until, text) typed into its control and applied; then, on
// a page filtered by several at once, new entries arrive over the live tail: those that match
// show at the top without a reload, those that miss a filter stay out. A screenshot of that
// page; then one more matching entry carrying markup and script in its body, attribute key and
// value, which must show as text and make no element.
//   node logs.mjs BASE_URL OUT_DIR
import path from "node:path";
import { run, fail } from "./browser.mjs";

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) fail("usage: logs.mjs BASE_URL OUT_DIR");

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const OTHER_TRACE = "2cf7651916cd43dd8448eb211c80319e";
// Markup that would run or make elements if a row were ever built from HTML.
const HOSTILE_BODY = "live error arrives <img src=x onerror=\"window.__xss='body'\"><script>window.__xss='script'</script>";
const HOSTILE_KEY = "<img src=x onerror=\"window.__xss='key'\">";
const HOSTILE_VALUE = "<svg onload=\"window.__xss='value'\"></svg><b>bold</b>";

async function sendLog(level, body, { service = "orders", trace = TRACE, attributes = {} } = {}) {
  const payload = JSON.stringify({
    items: [{ timestamp: Date.now() / 1000, level, body, trace_id: trace,
              attributes: { "service.name": { value: service, type: "string" }, ...attributes } }],
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

// Opens /logs, sets each control of the filter form as a user would (a select's option, an
// input's text) and applies the form; answers the rows' bodies and the query the form made.
async function applyFilters(page, filters) {
  await page.goto(`${base}/logs`);
  for (const [name, value] of Object.entries(filters)) {
    const control = page.locator(`#log-filters [name=${name}]`);
    if ((await control.evaluate((e) => e.tagName)) === "SELECT") {
      await control.selectOption(value);
    } else {
      await control.fill(value);
    }
  }
  await Promise.all([page.waitForNavigation(), page.click("#log-filters button[type=submit]")]);
  const query = Object.fromEntries(new URL(page.url()).searchParams);
  for (const key of Object.keys(query)) if (query[key] === "") delete query[key];
  return { bodies: await bodies(page), query };
}

await run(async (page) => {
  await page.goto(`${base}/logs`);
  const all = await bodies(page);
  const filters = {
    level: await applyFilters(page, { level: "debug" }),
    min_level: await applyFilters(page, { min_level: "warn" }),
    service: await applyFilters(page, { service: "checkout-web" }),
    trace: await applyFilters(page, { trace_id: TRACE }),
    time: await applyFilters(page, { since: "2023-11-14T22:13:20.500Z", until: "1700000002.5" }),
    text: await applyFilters(page, { q: "ORDER 17" }),
    attribute_text: await applyFilters(page, { q: "visa-4242" }),
  };

  // The tailed page: several filters at once.
  const tailed = await applyFilters(page, { min_level: "warn", service: "orders", trace_id: TRACE });
  await page.evaluate(() => (window.__sameDocument = true));
  await page.waitForFunction(() => document.querySelector("#log-live")?.dataset.state === "live");
  const stream = await page.getAttribute("#log-live", "data-stream");
  await sendLog("info", "live info stays out");
  await sendLog("error", "live other service stays out", { service: "checkout-web" });
  await sendLog("error", "live other trace stays out", { trace: OTHER_TRACE });
  await sendLog("error", "payment retried for order 17", {
    attributes: { attempt: { value: 2, type: "integer" }, "http.route": { value: "/api/orders/{id}", type: "string" } },
  });
  await page.locator("#log-rows .body", { hasText: "payment retried for order 17" }).waitFor();
  // The README's screenshot: the tailed page with the new entry's attributes open.
  await page.locator("#log-rows details.attributes").first().click();
  const shot = path.join(outDir, "logs.png");
  await page.screenshot({ path: shot });

  await sendLog("error", HOSTILE_BODY, {
    attributes: { [HOSTILE_KEY]: { value: HOSTILE_VALUE, type: "string" } },
  });
  await page.locator("#log-rows .body", { hasText: "live error arrives" }).waitFor();
  const after = await bodies(page);
  const live_row = await page.$eval("#log-rows tr:first-child", (row) => ({
    body: row.querySelector(".body")?.textContent,
    keys: [...row.querySelectorAll("dl.kv dt")].map((e) => e.textContent),
    values: [...row.querySelectorAll("dl.kv dd")].map((e) => e.textContent),
  }));
  const injected = await page.evaluate(() => ({
    elements: [...document.querySelectorAll("#log-rows img, #log-rows script, #log-rows svg, #log-rows b, #log-rows iframe")]
      .map((e) => e.outerHTML),
    xss: window.__xss ?? null,
  }));
  return {
    all,
    filters,
    tailed,
    stream,
    after,
    live_row,
    injected,
    hostile: { body: HOSTILE_BODY, key: HOSTILE_KEY, value: HOSTILE_VALUE },
    url: page.url(),
    trace_href: await page.getAttribute("#log-rows a.trace-link", "href"),
    same_document: await page.evaluate(() => window.__sameDocument === true),
    shot,
  };
});
