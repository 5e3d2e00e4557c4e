// Scenario: the filter bar, the search box and the type chips narrow the list.
//   node filters.mjs BASE_URL
import { run, listSummaries, fail } from "./browser.mjs";

const [base] = process.argv.slice(2);
if (!base) fail("usage: filters.mjs BASE_URL");

await run(async (page) => {
  const submit = async () => {
    await Promise.all([page.waitForNavigation(), page.click(".filters button[type=submit]")]);
  };
  await page.goto(`${base}/`);
  const all = await listSummaries(page);

  // The keyboard shortcut focuses the search box.
  await page.keyboard.press("/");
  await page.keyboard.type("checkout");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  const search = await listSummaries(page);

  await page.goto(`${base}/`);
  await page.fill("input[name=level]", "error");
  await submit();
  const level = await listSummaries(page);

  await page.fill("input[name=environment]", "staging");
  await submit();
  const levelAndEnvironment = await listSummaries(page);
  const url = page.url();

  await page.goto(`${base}/`);
  await page.selectOption("select[name=project]", "2");
  await submit();
  const project = await listSummaries(page);

  await page.goto(`${base}/`);
  await Promise.all([page.waitForNavigation(), page.click('.chips a[data-type="transaction"]')]);
  const typeChip = await listSummaries(page);

  await page.goto(`${base}/?limit=2`);
  const firstPage = await listSummaries(page);
  await Promise.all([page.waitForNavigation(), page.click(".pager a[rel=next]")]);
  const secondPage = await listSummaries(page);

  return {
    all,
    search,
    level,
    level_and_environment: levelAndEnvironment,
    level_and_environment_url: url,
    project,
    type_chip: typeChip,
    first_page: firstPage,
    second_page: secondPage,
  };
});
