// Scenario: an event the Python SDK sent shows in the list, and its detail page shows the
// exception type, value and the frames' function names.
//   node python_event.mjs BASE_URL MARKER_TEXT
import { run, listSummaries, fail } from "./browser.mjs";

const [base, marker] = process.argv.slice(2);
if (!base || !marker) fail("usage: python_event.mjs BASE_URL MARKER_TEXT");

await run(async (page) => {
  await page.goto(`${base}/`);
  const summaries = await listSummaries(page);
  const link = page.locator("#rows td.summary a", { hasText: marker }).first();
  await link.click();
  await page.waitForSelector("#exceptions");
  const exceptions = await page.$$eval("#exceptions .exception", (nodes) =>
    nodes.map((n) => ({
      type: n.querySelector(".ex-type")?.textContent ?? "",
      value: n.querySelector(".ex-value")?.textContent ?? "",
      functions: Array.from(n.querySelectorAll(".frame .fn")).map((f) => f.textContent),
      in_app: Array.from(n.querySelectorAll(".frame.in-app .fn")).map((f) => f.textContent),
    })),
  );
  return {
    summaries,
    url: page.url(),
    title: await page.textContent("#title"),
    exceptions,
    has_breadcrumbs_or_contexts: (await page.$$("section.card h2")).length > 0,
  };
});
