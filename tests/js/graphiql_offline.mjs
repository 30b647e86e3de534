// GraphiQL served by the API, in headless Chromium with the network blocked:
//   node tests/js/graphiql_offline.mjs <base url, e.g. http://127.0.0.1:8000>
// Opens /graphql, runs the pre-filled login, pastes the token into the second tab's header template,
// runs that query, and prints a JSON summary. Any request leaving the API's origin is blocked and listed.
import { chromium } from "playwright-core";

const base = process.argv[2];
const origin = new URL(base).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    // Everything but loopback goes to a proxy that does not exist: no network for the page.
    "--proxy-server=http://127.0.0.1:9",
  ],
});
const summary = { blocked: [], failed: [], consoleErrors: [] };
let page;
try {
  page = await browser.newPage();
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    summary.blocked.push(url);
    return route.abort("blockedbyclient");
  });
  page.on("requestfailed", (request) => summary.failed.push(request.url()));
  page.on("console", (message) => { if (message.type() === "error") summary.consoleErrors.push(message.text()); });

  await page.goto(`${origin}/graphql`, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-container", { timeout: 20000 });
  const editors = () => page.evaluate(() =>
    [...document.querySelectorAll(".CodeMirror")].map((el) => ({
      classes: el.parentElement?.className ?? "", value: el.CodeMirror.getValue(),
    })));
  const queryText = async () => page.evaluate(() => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.getValue());
  const responseText = async () => page.evaluate(() => document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "");

  summary.title = await page.title();
  summary.startQuery = await queryText();
  summary.tabs = await page.$$eval(".graphiql-tab", (tabs) => tabs.map((t) => t.textContent.trim()));

  await page.click(".graphiql-execute-button");
  await page.waitForFunction(() => (document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "").includes('"token"'), null, { timeout: 20000 });
  const login = JSON.parse(await responseText());
  summary.loginUser = login.data?.login?.user ?? null;
  const token = login.data?.login?.token;

  await page.locator(".graphiql-tab").nth(1).locator("button").first().click();
  await page.waitForFunction(() => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.getValue().includes("MyOpenDeals"), null, { timeout: 10000 });
  summary.headerTemplate = (await editors()).map((e) => e.value).find((v) => v.trim().startsWith("{") && v.includes("Authorization")) ?? null;
  await page.evaluate((token) => {
    for (const el of document.querySelectorAll(".CodeMirror")) {
      const value = el.CodeMirror.getValue();
      if (value.includes("Bearer <token>")) el.CodeMirror.setValue(value.replace("<token>", token));
    }
  }, token);
  // GraphiQL reads the tab's operation name from its query editor after a debounce (100 ms): a click
  // sooner than any person could make it runs the previous tab's operation name ("Unknown operation").
  await page.waitForTimeout(500);
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(() => (document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "").includes('"me"'), null, { timeout: 20000 });
  summary.authenticated = JSON.parse(await responseText());
} catch (error) {
  summary.error = String(error);
  summary.atFailure = await page?.evaluate(() => [...document.querySelectorAll(".CodeMirror")].map((el) => el.CodeMirror.getValue())).catch(String);
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
process.exit(summary.error ? 1 : 0);
