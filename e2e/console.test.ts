import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, type RunningMesh, startMesh, startReceiver } from "./mesh.ts";

/**
 * The console in a real headless Chromium against the whole mesh as processes: a merchant signs in,
 * registers a webhook receiver, creates a review-size payout; an operator (another tab, its own
 * sign-in) approves it; the merchant's open list turns SUCCESS by itself; the payout's detail page shows
 * its webhook attempts; the attempt is shown in the message log and replayed to the receiver. Every view
 * is saved as a screenshot under e2e/artifacts/console/.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const MERCHANT_KEY = "mypay_test_sandbox_4f7c2a9e1b3d5f60";
const ADMIN_KEY = "mypay_admin_sandbox_7d2e9b4c1a6f3e80";
const ARTIFACTS = resolve(import.meta.dirname, "artifacts", "console");
const haveChromium = existsSync(CHROMIUM);
/** Port 9 (discard) on loopback: nothing listens, so every delivery is refused at once. */
const DEAD_URL = "http://127.0.0.1:9/hooks";
if (!haveChromium) {
  console.warn(
    `\n!!! [console e2e] SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)\n`,
  );
}

const storage = testStorage();
let mesh: RunningMesh;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let context: BrowserContext;
let merchant: Page;
let admin: Page;
let payoutId = "";
const profile = mkdtempSync(join(tmpdir(), "mypay-console-chromium-"));
/** Browser-side failures (script errors, CSP violations, failed requests): the test fails on any. */
const problems: string[] = [];

function watch(page: Page, name: string): Page {
  page.on("pageerror", (err) => problems.push(`${name}: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${name} console: ${msg.text()}`);
  });
  return page;
}

/** An element's text with every run of whitespace (Intl puts a no-break space after the currency) as one space. */
async function text(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? "").replace(/\s+/g, " ").trim();
}

/** Polls like a person watching the screen: live views refresh every few seconds. */
function poll<T>(read: () => Promise<T>) {
  return expect.poll(read, { timeout: 20_000, interval: 100 });
}

/** The receiver's copy of the payout's SUCCESS webhook. */
function successWebhook() {
  return eventually(
    async () => receiver.received.find((r) => JSON.parse(r.body).payoutId === payoutId && r.body.includes("SUCCESS")),
    15_000,
    "the SUCCESS webhook",
  );
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

describe.skipIf(!haveChromium)("console in a real browser", () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // Two quick attempts, so the endpoint nobody listens on dead-letters within the test.
    mesh = await startMesh(storage, { BANK_DELAY_MS: "300", NOTIFIER_RETRY_SCHEDULE: "0s,1s" });
    receiver = await startReceiver();
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
      locale: "en-US",
      timezoneId: "Asia/Karachi",
      viewport: { width: 1360, height: 900 },
    });
    context.setDefaultTimeout(15_000);
    merchant = watch(context.pages()[0] ?? (await context.newPage()), "merchant");
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== "fail") return;
    for (const [name, page] of [
      ["merchant", merchant],
      ["admin", admin],
    ] as const) {
      if (page && !page.isClosed()) await shot(page, `failed-${name}`);
    }
  });

  afterAll(async () => {
    await context?.close();
    await receiver?.close();
    await mesh?.stop();
    await dropTestDatabases(storage);
    rmSync(profile, { recursive: true, force: true });
  });

  it("serves the console with its security headers and signs a merchant in by keyboard", async () => {
    const res = await merchant.goto(`${mesh.gatewayUrl}/console/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()["content-security-policy"]).toContain("script-src 'self'");
    expect(res?.headers()["cache-control"]).toBe("no-cache");
    const key = merchant.getByLabel("API key");
    await key.fill("mypay_test_not_a_real_key_0000");
    await key.press("Enter");
    await poll(() => text(merchant.getByRole("alert"))).toMatch(/API key/i);
    problems.length = 0; // the browser logs that refused sign-in's 401, as it should
    await key.fill(MERCHANT_KEY);
    await shot(merchant, "01-sign-in");
    await key.press("Enter");
    await merchant.waitForURL("**/console/payouts");
    await poll(() => text(merchant.getByTestId("available"))).toBe("PKR 1,000,000.00");
    await shot(merchant, "02-merchant-payouts");
  });

  it("registers the webhook receiver (and an endpoint nobody listens on) and shows each secret once", async () => {
    await merchant.getByRole("link", { name: "Webhooks" }).click();
    await merchant.getByLabel("Endpoint URL").fill(DEAD_URL);
    await merchant.getByRole("button", { name: "Add endpoint" }).click();
    expect(await text(merchant.getByTestId("secret"))).toMatch(/^whsec_/);
    await merchant.getByRole("button", { name: "I have stored it" }).click();
    await merchant.getByLabel("Endpoint URL").fill(receiver.url);
    await merchant.getByRole("button", { name: "Add endpoint" }).click();
    const secret = await text(merchant.getByTestId("secret"));
    expect(secret).toMatch(/^whsec_/);
    await shot(merchant, "03-webhooks-secret");
    await merchant.getByRole("button", { name: "I have stored it" }).click();
    expect(await merchant.getByTestId("secret").count()).toBe(0);
    expect(await text(merchant.getByTestId("endpoints"))).toContain(receiver.url);
  });

  it("creates a review-size test payout with the scenario picker", async () => {
    await merchant.getByRole("link", { name: "New test payout" }).click();
    await merchant.getByLabel("0001 · Success").check();
    await merchant.getByRole("button", { name: /review-size amount/ }).click();
    expect(await merchant.getByLabel("Amount").inputValue()).toBe("100000.00");
    await merchant.getByLabel("Your reference").fill("console-e2e-1");
    await shot(merchant, "04-create-payout");
    await merchant.getByRole("button", { name: "Create payout" }).click();
    await merchant.waitForURL(/\/console\/payouts\/po_/);
    payoutId = decodeURIComponent(merchant.url().split("/").at(-1)!);
    await poll(() => text(merchant.getByTestId("payout-status"))).toMatch(/IN REVIEW/);
    await shot(merchant, "05-payout-in-review");
    await merchant.getByRole("link", { name: "← All payouts" }).click();
    const row = merchant.locator(`tr[data-payout="${payoutId}"]`);
    await poll(() => text(row)).toMatch(/IN REVIEW/);
    expect(await text(row)).toContain("PKR 100,000.00");
  });

  it("lets an operator in another tab approve it, with a reason required to reject", async () => {
    admin = watch(await context.newPage(), "admin");
    await admin.goto(`${mesh.gatewayUrl}/console/admin/review`);
    await admin.getByLabel("API key").fill(ADMIN_KEY);
    await admin.getByRole("button", { name: "Sign in" }).click();
    const row = admin.locator(`tr[data-payout="${payoutId}"]`);
    await row.waitFor();
    await poll(() => text(admin.getByTestId("mesh-status"))).toMatch(
      /gateway.*ledger.*payouts.*notifier.*Processor lag/s,
    );
    await shot(admin, "06-admin-review-queue");
    await admin.getByRole("button", { name: `Reject ${payoutId}` }).click();
    await admin.getByRole("button", { name: "Reject payout" }).click();
    await poll(() => text(admin.getByRole("alert").first())).toBe("A reason is required.");
    await shot(admin, "07-admin-reject-reason");
    await admin.keyboard.press("Escape");
    await admin.getByRole("button", { name: `Approve ${payoutId}` }).click();
    await row.waitFor({ state: "detached" });
  });

  it("shows the payout reach SUCCESS in the merchant's open list without a reload", async () => {
    const status = merchant.locator(`tr[data-payout="${payoutId}"] .badge`);
    await poll(() => text(status)).toBe("SUCCESS");
    await poll(() => text(merchant.getByTestId("locked"))).toBe("PKR 0.00");
    expect(await text(merchant.getByTestId("balance"))).toBe("PKR 900,000.00");
    await shot(merchant, "08-merchant-success");
    await merchant.getByRole("link", { name: payoutId }).click();
    const timeline = merchant.getByTestId("timeline");
    await poll(() => text(timeline)).toMatch(/IN REVIEW → PENDING.*approved in console.*admin:/s);
    expect(await text(timeline)).toMatch(/→ SUCCESS/);
    await poll(() => text(merchant.getByTestId("entries"))).toMatch(/hold.*capture|capture.*hold/s);
    expect(await text(merchant.getByTestId("payout-status"))).toBe("SUCCESS");
    await shot(merchant, "09-payout-detail");
  });

  it("shows the payout's SUCCESS webhook attempt on its detail page, with a replay per message", async () => {
    const webhookId = String((await successWebhook()).headers["webhook-id"]);
    const messages = merchant.getByTestId("payout-messages");
    const row = messages.locator(`tr[data-message="${webhookId}"]`);
    await poll(() => text(row)).toMatch(/DELIVERED/);
    expect(await text(row)).toContain(receiver.url);
    const attempts = merchant.getByTestId(`attempts-${webhookId}`);
    await poll(() => text(attempts)).toMatch(/DELIVERED\s*200\s*\d+ ms\s*ok/);
    // The attempt's time in the viewer's locale and zone (the browser's en-US, Asia/Karachi).
    const time = attempts.locator("time").first();
    const at = new Date((await time.getAttribute("datetime"))!);
    expect(await text(time)).toBe(
      at
        .toLocaleString("en-US", { timeZone: "Asia/Karachi", dateStyle: "medium", timeStyle: "medium" })
        .replace(/\s+/g, " "),
    );
    await merchant.getByRole("button", { name: `Replay ${webhookId}` }).waitFor();
    // Only this payout's messages: every one the receiver got is about this payout.
    const shown = await messages
      .locator("tr[data-message]")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-message")));
    const received = receiver.received.filter((r) => shown.includes(String(r.headers["webhook-id"])));
    expect(received.length).toBeGreaterThan(0);
    expect(new Set(received.map((r) => JSON.parse(r.body).payoutId))).toEqual(new Set([payoutId]));
    expect(await merchant.getByRole("link", { name: "Open the message log" }).getAttribute("href")).toBe(
      "/console/webhooks",
    );
    await shot(merchant, "09-payout-webhooks");
  });

  it("shows the webhook attempt in the message log and replays it to the receiver with the same webhook-id", async () => {
    const webhookId = String((await successWebhook()).headers["webhook-id"]);
    await merchant.getByRole("link", { name: "Webhooks" }).click();
    const row = merchant.locator(`tr[data-message="${webhookId}"]`);
    await poll(() => text(row)).toMatch(/DELIVERED/);
    await row.getByRole("button", { name: "Attempts" }).click();
    const attempts = merchant.getByTestId(`attempts-${webhookId}`);
    await poll(() => text(attempts)).toMatch(/DELIVERED\s*200/);
    expect(await text(attempts)).toContain("ok"); // the receiver's answer, as excerpted
    await shot(merchant, "10-message-attempts");
    const before = receiver.received.filter((r) => r.headers["webhook-id"] === webhookId).length;
    await merchant.getByRole("button", { name: `Replay ${webhookId}` }).click();
    await eventually(
      async () => receiver.received.filter((r) => r.headers["webhook-id"] === webhookId).length > before || undefined,
      15_000,
      "the replayed delivery",
    );
    await poll(() => attempts.locator("tbody tr").count()).toBe(2);
    await shot(merchant, "11-message-replayed");
  });

  it("renders the operations views: dead letters, merchants and keys", async () => {
    await admin.getByRole("link", { name: "Dead letters" }).click();
    const dead = admin.getByTestId("dead-letters");
    await poll(() => dead.locator("tbody tr").count()).toBeGreaterThanOrEqual(3); // its status changes, each dead
    expect(await text(dead)).toContain("mch_sandbox");
    await shot(admin, "12-admin-dead-letters");
    await admin.getByRole("button", { name: "Replay", exact: true }).click();
    await poll(() => text(admin.getByRole("form", { name: "Replay dead letters" }).getByRole("status"))).toMatch(
      /^[1-9]\d* messages? put back in the queue\.$/,
    );
    await merchant.getByRole("button", { name: `Disable ${DEAD_URL}` }).click();
    await poll(() => text(merchant.getByTestId("endpoints").locator("tr", { hasText: DEAD_URL }))).toContain(
      "DISABLED",
    );
    await admin.getByRole("link", { name: "Merchants and keys" }).click();
    await admin.getByLabel("Name").fill("E2E Traders");
    await admin.getByLabel("Id (optional)").fill("mch_e2e_traders");
    await admin.getByRole("button", { name: "Create merchant" }).click();
    await admin.getByLabel("Top-up amount for mch_e2e_traders (PKR)").fill("2500.00");
    await admin.getByRole("form", { name: "Top up mch_e2e_traders" }).getByRole("button").click();
    await poll(() => text(admin.getByRole("status").first())).toContain("available now 2500.00 PKR");
    await admin.getByRole("button", { name: "New API key for mch_e2e_traders" }).click();
    expect(await text(admin.getByTestId("secret"))).toMatch(/^mypay_test_/);
    await shot(admin, "13-admin-merchants");
  });

  it("logged no script error, CSP violation or failed request in either tab", () => {
    expect(problems).toEqual([]);
  });
});
