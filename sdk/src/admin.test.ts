import { createServer } from "node:net";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type RunningMesh, startMesh } from "../../e2e/mesh.ts";
import { MyPayAdmin } from "./admin.ts";
import { MyPay } from "./client.ts";
import { AuthenticationError, InvalidRequestError, MyPayError, NotFoundError } from "./errors.ts";
import type { Payout, PayoutStatus } from "./types.ts";

/**
 * The operations client against the real mesh (four services as processes): review decisions, on-hold
 * payouts, merchants, keys, top-ups, dead letters and mesh status, each checked by its effect.
 */
const API_KEY = "mypay_test_sandbox_4f7c2a9e1b3d5f60";
const ADMIN_KEY = "mypay_admin_sandbox_7d2e9b4c1a6f3e80";
const storage = testStorage();
let mesh: RunningMesh;
let admin: MyPayAdmin;
let merchant: MyPay;

/** A loopback port nobody listens on: deliveries to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

const create = (client: MyPay, amount: string, accountNumber: string, reference: string) =>
  client.payouts.create({
    amount,
    currency: "PKR",
    merchantReference: reference,
    bankCode: "HBL",
    accountNumber,
    accountTitle: "Ali Khan",
  });

const reaches = (id: string, status: PayoutStatus, client = merchant) =>
  eventually(
    async () => {
      const payout = await client.payouts.get(id);
      return payout.status === status ? payout : undefined;
    },
    15_000,
    `${id} ${status}`,
  );

beforeAll(async () => {
  mesh = await startMesh(storage, { BANK_DELAY_MS: "0", NOTIFIER_RETRY_SCHEDULE: "0s,0s" });
  admin = new MyPayAdmin({ adminKey: ADMIN_KEY, baseUrl: mesh.gatewayUrl });
  merchant = new MyPay({ apiKey: API_KEY, baseUrl: mesh.gatewayUrl, transport: "rest" });
});

afterAll(async () => {
  await mesh?.stop();
  await dropTestDatabases(storage);
});

describe("MyPayAdmin against the mesh", () => {
  it("approves and rejects payouts from the review queue, with the reason in the audit trail", async () => {
    const approved = await create(merchant, "150000.00", "1234560001", "review-approve");
    const rejected = await create(merchant, "150000.00", "1234560001", "review-reject");
    expect([approved.status, rejected.status]).toEqual(["IN_REVIEW", "IN_REVIEW"]);
    const queue = await admin.payouts.reviewQueue({ limit: 100 }).toArray();
    expect(queue.map((p: Payout) => p.id)).toEqual(expect.arrayContaining([approved.id, rejected.id]));
    expect(queue.every((p) => p.status === "IN_REVIEW")).toBe(true);

    expect((await admin.payouts.approve(approved.id, { reason: "known customer" })).status).toBe("PENDING");
    await reaches(approved.id, "SUCCESS");

    await expect(admin.payouts.reject(rejected.id, { reason: "  " })).rejects.toBeInstanceOf(InvalidRequestError);
    expect((await merchant.payouts.get(rejected.id)).status).toBe("IN_REVIEW");
    expect((await admin.payouts.reject(rejected.id, { reason: "name mismatch" })).status).toBe("FAILED");
    const last = (await merchant.payouts.history(rejected.id)).at(-1)!;
    expect(last).toMatchObject({ from: "IN_REVIEW", to: "FAILED", reason: "name mismatch" });
    expect(last.actor).toMatch(/^admin:adm_[0-9a-f]{12}$/); // once: the gateway once prefixed it twice

    const again = await admin.payouts.approve(rejected.id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(MyPayError);
    expect((again as MyPayError).httpStatus).toBe(409);
    const left = await admin.payouts.reviewQueue({ limit: 100 }).toArray();
    expect(left.map((p) => p.id)).not.toContain(approved.id);
  });

  it("releases and fails on-hold payouts", async () => {
    const held = await create(merchant, "500.00", "1234560005", "hold-release");
    await reaches(held.id, "ON_HOLD");
    const onHold = await admin.payouts.list({ status: "ON_HOLD" }).toArray();
    expect(onHold.map((p) => p.id)).toContain(held.id);
    expect((await admin.payouts.releaseHold(held.id)).status).toBe("PENDING");
    await reaches(held.id, "ON_HOLD"); // account 0005 is held on every attempt
    await expect(admin.payouts.failHold(held.id, { reason: "" })).rejects.toBeInstanceOf(InvalidRequestError);
    const failed = await admin.payouts.failHold(held.id, { reason: "beneficiary unverified" });
    expect(failed.status).toBe("FAILED");
  });

  it("creates a merchant, tops it up exactly once per key, and issues and revokes its key", async () => {
    const created = await admin.merchants.create({ name: "Console Test Traders" });
    expect(created.id).toMatch(/^mch_/);
    const merchants = await admin.merchants.list({ limit: 100 }).toArray();
    expect(merchants.map((m) => m.id)).toContain(created.id);

    const topUp = await admin.merchants.topUp(
      created.id,
      { amount: "2500.00", currency: "PKR" },
      { idempotencyKey: "t-1" },
    );
    expect(topUp).toMatchObject({ merchantId: created.id, balance: "2500.00", available: "2500.00", locked: "0.00" });
    const replay = await admin.merchants.topUp(
      created.id,
      { amount: "2500.00", currency: "PKR" },
      { idempotencyKey: "t-1" },
    );
    expect(replay.balance).toBe("2500.00");
    await expect(admin.merchants.topUp(created.id, { amount: "1.001", currency: "PKR" })).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    await expect(admin.merchants.topUp("mch_nobody", { amount: "1.00", currency: "PKR" })).rejects.toBeInstanceOf(
      NotFoundError,
    );

    const key = await admin.apiKeys.create(created.id);
    expect(key.key).toMatch(/^mypay_test_/);
    const listed = await admin.apiKeys.list({ merchantId: created.id }).toArray();
    expect(listed.map((k) => k.id)).toEqual([key.id]);
    expect(JSON.stringify(listed)).not.toContain(key.key);
    const theirs = new MyPay({ apiKey: key.key, baseUrl: mesh.gatewayUrl, transport: "connect", maxRetries: 0 });
    expect((await theirs.balance.get()).available).toBe("2500.00");
    expect((await admin.apiKeys.revoke(key.id)).revokedAt).not.toBeNull();
    await expect(theirs.balance.get()).rejects.toBeInstanceOf(AuthenticationError);
  });

  it("lists dead-lettered webhooks and puts them back in the queue", async () => {
    const since = new Date(Date.now() - 1000);
    const { id } = await admin.merchants.create({ name: "Dead Letter Ltd" });
    await admin.merchants.topUp(id, { amount: "100.00", currency: "PKR" });
    const key = await admin.apiKeys.create(id);
    const client = new MyPay({ apiKey: key.key, baseUrl: mesh.gatewayUrl, transport: "rest" });
    await client.webhookEndpoints.create({ url: `http://127.0.0.1:${await closedPort()}/hooks` });
    const payout = await create(client, "10.00", "1234560001", "dead-letter");
    await reaches(payout.id, "SUCCESS", client);
    const dead = await eventually(
      async () => {
        const page = await admin.deadLetters.list({ merchantId: id }).firstPage();
        return page.data.length >= 2 ? page.data : undefined;
      },
      15_000,
      "dead letters",
    );
    expect(dead.every((m) => m.status === "DEAD" && m.merchantId === id)).toBe(true);
    const { requeued } = await admin.deadLetters.replay({ since, merchantId: id });
    expect(requeued).toBe(dead.length);
  });

  it("reports every service ready, the processor lag and the outbox backlog", async () => {
    const status = await admin.meshStatus();
    expect(status.services.map((s) => [s.name, s.status])).toEqual([
      ["gateway", "ready"],
      ["ledger", "ready"],
      ["payouts", "ready"],
      ["notifier", "ready"],
    ]);
    expect(typeof status.processorLagSeconds).toBe("number");
    expect(status.outboxBacklog).toBeGreaterThanOrEqual(0);
    expect(Date.parse(status.checkedAt)).toBeGreaterThan(Date.now() - 10_000);
  });

  it("refuses a wrong admin key and merchant keys", async () => {
    const wrong = new MyPayAdmin({ adminKey: "mypay_admin_wrong_key_000", baseUrl: mesh.gatewayUrl, maxRetries: 0 });
    await expect(wrong.meshStatus()).rejects.toBeInstanceOf(AuthenticationError);
    const asMerchant = new MyPayAdmin({ adminKey: API_KEY, baseUrl: mesh.gatewayUrl, maxRetries: 0 });
    const err = await asMerchant.payouts
      .reviewQueue()
      .firstPage()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MyPayError);
    expect([401, 403]).toContain((err as MyPayError).httpStatus);
    expect(() => new MyPayAdmin({ adminKey: "" })).toThrow(TypeError);
  });
});
