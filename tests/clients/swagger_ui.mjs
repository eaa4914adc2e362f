// Drives Swagger UI at /docs in Debian's Chromium: every operation is listed, Authorize with a
// key, try out GET /clients for an existing client and see 200 with its JSON.
// Usage: node swagger_ui.mjs BASE_URL KEY CLIENT_ID SCREENSHOT
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, key, clientId, screenshot] = process.argv.slice(2);
const expectedOperations = 17;

const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "chromium-")), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (page, why) => {
  await page.screenshot({ path: screenshot, fullPage: true });
  console.error(why);
  await browser.close();
  process.exit(1);
};
const page = await browser.newPage();
try {
  await page.goto(`${base}/docs`);
  await page.waitForSelector(".opblock", { timeout: 20000 });
  const operations = await page.locator(".opblock").count();
  if (operations !== expectedOperations) await fail(page, `${operations} operations listed, expected ${expectedOperations}`);

  await page.click("button.authorize");
  await page.fill(".modal-ux input", key);
  await page.click(".modal-ux .auth-btn-wrapper button.authorize");
  await page.click(".modal-ux button.btn-done");

  const op = page.locator("#operations-Clients-get_client");
  await op.locator(".opblock-summary").click();
  await op.locator("button.try-out__btn").click();
  await op.locator("tr[data-param-name='X-Client-Id'] input").fill(String(clientId));
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: 20000 });
  const code = (await status.innerText()).trim();
  const body = await op.locator(".live-responses-table .response-col_description pre").first().innerText();
  await page.screenshot({ path: screenshot, fullPage: true });
  if (code !== "200") await fail(page, `GET /clients answered ${code}: ${body}`);
  const json = JSON.parse(body);
  if (json.client_id !== Number(clientId)) await fail(page, `unexpected body ${body}`);
  console.log(`Swagger UI: ${operations} operations, authorized, GET /clients -> ${code} for client ${json.client_id} (${json.info.Name}); screenshot ${screenshot}`);
} catch (e) {
  await fail(page, `Swagger UI test failed: ${e}`);
}
await browser.close();
