// Scenario: the trace list takes a new trace live, without a reload; its waterfall nests the
// two services' spans with the error and log pinned on theirs; the pinned error links to its
// item, which links back; screenshots of both pages; then a trace full of script payloads
// arrives live and is opened, and nothing runs.
//   node traces.mjs BASE_URL ENVELOPES_JSON OUT_DIR
// ENVELOPES_JSON: {"trace_id", "hostile_id", "live": [[project, body]...], "hostile": [...]}
import fs from "node:fs";
import path from "node:path";
import { run, fail } from "./browser.mjs";

const [base, file, outDir] = process.argv.slice(2);
if (!base || !file || !outDir) fail("usage: traces.mjs BASE_URL ENVELOPES_JSON OUT_DIR");
const spec = JSON.parse(fs.readFileSync(file, "utf8"));

async function post([project, body]) {
  const response = await fetch(`${base}/api/${project}/envelope/`, {
    method: "POST",
    headers: {
      "content-type": "application/x-sentry-envelope",
      "x-sentry-auth": "Sentry sentry_key=public, sentry_version=7, sentry_client=ui-test/1.0",
    },
    body,
  });
  if (!response.ok) throw new Error(`sending an envelope answered ${response.status}`);
}

const listed = (page) =>
  page.$$eval("#trace-rows tr[data-trace]", (rows) => rows.map((tr) => tr.dataset.trace));

async function openLive(page) {
  await page.goto(`${base}/traces`);
  await page.waitForFunction(() => document.querySelector("#trace-live")?.dataset.state === "live");
}

/// Waits until trace `id`'s row shows `errors` errors and `logs` logs (all its items stored).
async function waitForRow(page, id, errors, logs) {
  await page.waitForFunction(
    ([id, errors, logs]) => {
      const row = document.querySelector(`#trace-rows tr[data-trace="${id}"]`);
      return (
        row &&
        row.querySelector(".errors").textContent.trim() === errors &&
        row.querySelector(".logs").textContent.trim() === logs
      );
    },
    [id, errors, logs],
  );
}

const executed = (page) => page.evaluate(() => window.__xss ?? null);
const injected = (page) =>
  page.evaluate(
    () =>
      document.querySelectorAll(
        "main script, main img, main [onerror], main svg[onload], main iframe",
      ).length,
  );

await run(async (page) => {
  // 1. A new trace arrives while the list is open.
  await openLive(page);
  await page.evaluate(() => (window.__sameDocument = true));
  const before = await listed(page);
  for (const envelope of spec.live) await post(envelope);
  await waitForRow(page, spec.trace_id, "1", "2");
  const afterLive = await listed(page);
  const fresh = await page.$eval(`#trace-rows tr[data-trace="${spec.trace_id}"]`, (tr) =>
    tr.classList.contains("fresh"),
  );
  const sameDocument = await page.evaluate(() => window.__sameDocument === true);
  const liveRow = await page.$eval(`#trace-rows tr[data-trace="${spec.trace_id}"]`, (tr) => ({
    name: tr.querySelector(".root-name")?.textContent,
    duration: tr.querySelector(".dur").textContent,
    services: Array.from(tr.querySelectorAll(".svc"), (s) => s.textContent),
  }));

  // 2. Screenshots of the list and of the waterfall, light and dark.
  const shots = [];
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await openLive(page);
    const list = path.join(outDir, `traces-${scheme}.png`);
    await page.screenshot({ path: list });
    await page.goto(`${base}/traces/${spec.trace_id}`);
    await page.waitForSelector("#waterfall");
    const waterfall = path.join(outDir, `trace-${scheme}.png`);
    await page.screenshot({ path: waterfall });
    shots.push(list, waterfall);
  }
  await page.emulateMedia({ colorScheme: "light" });

  // 3. The waterfall: opened from the list, as a user would.
  await openLive(page);
  await page.click(`#trace-rows tr[data-trace="${spec.trace_id}"] .summary a`);
  await page.waitForSelector("#waterfall");
  const waterfallUrl = page.url();
  const rows = await page.$$eval("#waterfall > li.wf-row", (lis) =>
    lis.map((li) => {
      const svg = li.querySelector(":scope > svg.wf-bar");
      const bar = svg.querySelector("rect.bar");
      const box = svg.getBoundingClientRect();
      const barBox = bar ? bar.getBoundingClientRect() : null;
      return {
        depth: Number(li.dataset.depth),
        span: li.dataset.span,
        parent: li.dataset.parent,
        service: li.dataset.service,
        description: li.querySelector(".desc").textContent,
        duration: li.querySelector(".wf-dur").firstChild.textContent.trim(),
        // Where the bar is, as fractions of the axis.
        bar: barBox && [
          (barBox.left - box.left) / box.width,
          barBox.width / box.width,
        ],
        colour: bar ? getComputedStyle(bar).fill : null,
        error_marks: svg.querySelectorAll("rect.mark-error").length,
        log_marks: svg.querySelectorAll("rect.mark-log").length,
        pins: Array.from(li.querySelectorAll(":scope > ul.wf-pins li"), (pin) => ({
          kind: pin.className,
          text: pin.querySelector("a").textContent,
          href: pin.querySelector("a").getAttribute("href"),
          at: pin.querySelector("time").textContent,
        })),
      };
    }),
  );
  const marker = await page.$eval("rect.mark-error", (rect) => rect.closest("a").getAttribute("href"));

  // 4. The pinned error opens its item, whose page links back to the trace.
  await page.click("ul.wf-pins li.pin-error a");
  await page.waitForSelector("#title");
  const errorPage = { url: page.url(), title: await page.textContent("#title") };
  await page.click("#trace-link");
  await page.waitForSelector("#waterfall");
  const backUrl = page.url();

  // 5. Script payloads arrive live on the list, then open as a waterfall: nothing runs.
  await openLive(page);
  for (const envelope of spec.hostile) await post(envelope);
  await waitForRow(page, spec.hostile_id, "1", "2");
  const hostileList = {
    executed: await executed(page),
    injected: await injected(page),
    name: await page.$eval(`#trace-rows tr[data-trace="${spec.hostile_id}"] .root-name`, (n) => n.textContent),
  };
  await page.goto(`${base}/traces/${spec.hostile_id}`);
  await page.waitForSelector("#waterfall");
  const hostileTrace = {
    executed: await executed(page),
    injected: await injected(page),
    title: await page.textContent("#title"),
    descriptions: await page.$$eval("#waterfall .desc", (n) => n.map((e) => e.textContent)),
    pins: await page.$$eval("#waterfall .wf-pins a", (n) => n.map((e) => e.textContent)),
    scripts: await page.evaluate(() => Array.from(document.scripts).map((s) => s.getAttribute("src"))),
  };

  return {
    before,
    after_live: afterLive,
    fresh,
    same_document: sameDocument,
    live_row: liveRow,
    shots,
    waterfall_url: waterfallUrl,
    rows,
    marker,
    error_page: errorPage,
    back_url: backUrl,
    hostile_list: hostileList,
    hostile_trace: hostileTrace,
  };
});
