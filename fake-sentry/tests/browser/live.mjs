// Scenario: with the list open, a new event appears without a reload; while paused it waits,
// and it appears on resume.
//   node live.mjs BASE_URL
import { run, listSummaries, sendEvent, fail } from "./browser.mjs";

const [base] = process.argv.slice(2);
if (!base) fail("usage: live.mjs BASE_URL");

const eventId = () => crypto.randomUUID().replaceAll("-", "");

await run(async (page) => {
  await page.goto(`${base}/`);
  // A reload would drop this mark.
  await page.evaluate(() => (window.__sameDocument = true));
  await page.waitForFunction(() => document.querySelector("#live")?.dataset.state === "live");
  const before = await listSummaries(page);

  await sendEvent(base, { event_id: eventId(), message: "live arrival one", level: "warning" });
  await page.locator("#rows td.summary a", { hasText: "live arrival one" }).waitFor();
  const afterFirst = await listSummaries(page);

  await page.click("#live-toggle");
  await sendEvent(base, { event_id: eventId(), message: "live arrival two", level: "info" });
  await page.waitForFunction(() => document.querySelector("#live-status").textContent.includes("1 new"));
  const whilePaused = await listSummaries(page);
  const pausedStatus = await page.textContent("#live-status");
  await page.click("#live-toggle");
  await page.locator("#rows td.summary a", { hasText: "live arrival two" }).waitFor();

  return {
    before,
    after_first: afterFirst,
    while_paused: whilePaused,
    paused_status: pausedStatus,
    after_resume: await listSummaries(page),
    total: await page.textContent("#total"),
    same_document: await page.evaluate(() => window.__sameDocument === true),
  };
});
