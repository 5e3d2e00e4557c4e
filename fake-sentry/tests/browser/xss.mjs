// Scenario: an event whose message, tag, breadcrumb and frame variable hold script payloads is
// shown as text on the list and detail pages, and nothing runs.
//   node xss.mjs BASE_URL ITEM_ID
import { run, listSummaries, fail } from "./browser.mjs";

const [base, itemId] = process.argv.slice(2);
if (!base || !itemId) fail("usage: xss.mjs BASE_URL ITEM_ID");

await run(async (page) => {
  const executed = () => page.evaluate(() => window.__xss ?? null);
  await page.goto(`${base}/`);
  const listSummary = await listSummaries(page);
  const listExecuted = await executed();
  await page.goto(`${base}/items/${itemId}`);
  await page.waitForSelector("#message");
  return {
    list_summaries: listSummary,
    list_executed: listExecuted,
    detail_executed: await executed(),
    title: await page.textContent("#title"),
    message: await page.textContent("#message"),
    tags: await page.$$eval("#tags li", (lis) =>
      lis.map((li) => [li.querySelector(".k").textContent, li.querySelector(".v").textContent]),
    ),
    breadcrumbs: await page.$$eval("#breadcrumbs .crumb-msg", (n) => n.map((e) => e.textContent)),
    vars: await page.$$eval(".vars dd", (n) => n.map((e) => e.textContent)),
    // Elements a payload would have created if it had been parsed as HTML.
    injected_elements: await page.evaluate(
      () => document.querySelectorAll("main script, main img[src='x'], main [onerror], main svg[onload], main iframe").length,
    ),
    scripts: await page.evaluate(() => Array.from(document.scripts).map((s) => s.getAttribute("src"))),
  };
});
