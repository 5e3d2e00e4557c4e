// Scenario: a processed native crash's detail page shows the exception banner, the crashing
// thread's frames (trust and missing symbols marked), the other threads collapsed and the
// modules; its Reprocess button posts and comes back to the page.
//   node native_crash.mjs BASE_URL ITEM_ID [SCREENSHOT_PATH]
import { run, fail } from "./browser.mjs";

const [base, itemId, screenshot] = process.argv.slice(2);
if (!base || !itemId) fail("usage: native_crash.mjs BASE_URL ITEM_ID [SCREENSHOT_PATH]");

await run(async (page) => {
  await page.goto(`${base}/items/${itemId}`);
  await page.waitForSelector("#native-exception");
  const text = async (selector) => ((await page.textContent(selector)) ?? "").trim();
  const seen = {
    type: await text("#native-exception .ex-type"),
    value: await text("#native-exception .ex-value"),
    status: await text("#native-status"),
    signature: await text("#native-signature"),
    functions: await page.$$eval("#native-crashing-thread .frame .fn", (nodes) =>
      nodes.map((n) => n.textContent.trim()),
    ),
    trusts: await page.$$eval("#native-crashing-thread .frame summary", (nodes) =>
      nodes.map((n) =>
        Array.from(n.querySelectorAll(".badge"))
          .map((b) => b.textContent.trim())
          .filter((t) => !["inline", "no symbols", "in app"].includes(t))
          .join(","),
      ),
    ),
    no_symbols: (await page.$$("#native-crashing-thread .badge.warn")).length,
    threads: await page.$$eval("#native-threads details.thread", (nodes) =>
      nodes.map((n) => ({ open: n.open, summary: n.querySelector("summary").textContent.trim() })),
    ),
    modules: await page.$$eval("#native-modules tbody tr", (rows) =>
      rows.map((r) => Array.from(r.querySelectorAll("td")).map((td) => td.textContent.trim())),
    ),
    download: await page.getAttribute("#native-exception a[download]", "href"),
  };
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  await Promise.all([
    page.waitForURL((url) => url.pathname === `/items/${itemId}`, { waitUntil: "load" }),
    page.click("#native-exception form button"),
  ]);
  await page.waitForSelector("#native-exception");
  seen.after_reprocess = { url: page.url(), status: await text("#native-status") };
  return seen;
});
