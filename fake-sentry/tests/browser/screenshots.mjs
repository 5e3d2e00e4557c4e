// Scenario: screenshots of the list and of an event detail page, for the README.
//   node screenshots.mjs BASE_URL ITEM_ID OUT_DIR
import path from "node:path";
import { run, fail } from "./browser.mjs";

const [base, itemId, outDir] = process.argv.slice(2);
if (!base || !itemId || !outDir) fail("usage: screenshots.mjs BASE_URL ITEM_ID OUT_DIR");

await run(async (page) => {
  const shots = [];
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(`${base}/`);
    await page.waitForFunction(() => document.querySelector("#live")?.dataset.state === "live");
    const list = path.join(outDir, `list-${scheme}.png`);
    await page.screenshot({ path: list });
    await page.goto(`${base}/items/${itemId}`);
    await page.waitForSelector("#exceptions");
    const detail = path.join(outDir, `detail-${scheme}.png`);
    await page.screenshot({ path: detail, fullPage: false });
    shots.push(list, detail);
  }
  return { shots };
});
