import { createServer, type Server } from "node:http";
import { dropTestDatabases, freePort, testStorage } from "@mypay/kit";
import { verifyWebhook } from "@mypay/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "./mesh.ts";
import { recordFigures } from "./reliability-summary.ts";
import { ADMIN_KEY, payoutBody, pool, RestClient, SANDBOX_KEY } from "./rest-client.ts";
import { leakedSecrets } from "./secret-scan.ts";
import { ServiceSet } from "./services.ts";

/**
 * The merchant's webhook receiver is down for a whole (compressed) retry schedule: every message is
 * dead-lettered, visible to the merchant and to ops; once the receiver is back, a replay delivers
 * each one with its original webhook-id and a valid signature. Logs are captured at the most verbose
 * level throughout and must not contain any API key or webhook secret.
 */
const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "embedded SQLite";
const SCHEDULE = "0s,100ms,200ms,300ms";
const ATTEMPTS = SCHEDULE.split(",").length;
const PAYOUTS = 8;

describe(`reliability: webhook receiver down → dead letters → replay on ${engine}`, () => {
  let services: ServiceSet;
  let receiver: Server | undefined;

  beforeAll(async () => {
    services = await ServiceSet.create(storage, {
      LOG_LEVEL: "trace",
      BANK_DELAY_MS: "10",
      NOTIFIER_RETRY_SCHEDULE: SCHEDULE,
      NOTIFIER_TIMEOUT_MS: "2000",
    });
    await services.startAll();
  }, 120_000);

  afterAll(async () => {
    await services?.stopAll();
    receiver?.close();
    await dropTestDatabases(storage);
  });

  it("dead-letters every message after the last attempt, and a replay delivers each, signed", async () => {
    const api = new RestClient(services.url("gateway"));
    const admin = new RestClient(services.url("gateway"), ADMIN_KEY);
    const port = await freePort();
    const endpoint = await api.send("POST", "/api/v1/webhook-endpoints", {
      body: { url: `http://127.0.0.1:${port}/hooks` },
    });
    expect(endpoint.status).toBe(201);
    const secret = endpoint.body.secret as string;
    const endpointId = endpoint.body.id as string;

    const created = await pool(
      Array.from({ length: PAYOUTS }, (_, i) => i),
      PAYOUTS,
      (i) => api.createUntilAnswered(`dlq-${i}`, payoutBody(`dlq-${i}`, i % 2 ? "0003" : "0001")),
    );
    const expected = new Map(created.map((c, i) => [c.body.id as string, i % 2 ? "FAILED" : "SUCCESS"]));

    await pool([...expected], 4, ([id, status]) =>
      eventually(
        async () => ((await api.send("GET", `/api/v1/payouts/${id}`)).body.status === status ? true : undefined),
        30_000,
        `${id} ${status}`,
      ),
    );
    // Nothing listens on the port: every status change runs through every attempt and dies.
    let seen: unknown;
    let previous = -1;
    const dead = await eventually(
      async () => {
        const page = await api.send("GET", `/api/v1/webhook-messages?endpointId=${endpointId}&limit=100`);
        const messages = page.body.data as { id: string; status: string; attempts: number }[];
        seen = messages.map((m) => `${m.status}/${m.attempts}`);
        const settled = messages.length === previous && messages.every((m) => m.status === "DEAD");
        previous = messages.length;
        return settled && messages.length >= PAYOUTS ? messages : undefined;
      },
      60_000,
      "every message dead-lettered",
    ).catch((err) => {
      throw new Error(`${err}: ${JSON.stringify(seen)}`);
    });
    for (const m of dead) expect(m.attempts).toBe(ATTEMPTS);
    const attempts = await api.send("GET", `/api/v1/webhook-messages/${dead[0]!.id}/attempts?limit=100`);
    expect((attempts.body.data as { result: string }[]).map((a) => a.result)).toEqual(
      new Array(ATTEMPTS).fill("network_error"),
    );
    const letters = await admin.send("GET", "/api/v1/admin/dead-letters?merchantId=mch_sandbox&limit=100");
    expect((letters.body.data as { id: string }[]).map((m) => m.id).sort()).toEqual(dead.map((m) => m.id).sort());

    // The receiver comes back; the merchant replays everything that failed.
    const received = new Map<string, string>();
    const finals = new Map<string, string>();
    let badSignatures = 0;
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        try {
          const event = await verifyWebhook<{ payoutId: string; status: string }>(
            Buffer.concat(chunks).toString("utf8"),
            req.headers as Record<string, string>,
            secret,
          );
          received.set(String(req.headers["webhook-id"]), event.status);
          if (event.status === "SUCCESS" || event.status === "FAILED") finals.set(event.payoutId, event.status);
        } catch {
          badSignatures++;
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver!.listen(port, "127.0.0.1", r));
    const replay = await api.send("POST", "/api/v1/webhook-messages/replay-failed", {
      body: { since: new Date(Date.now() - 3_600_000).toISOString() },
    });
    expect(replay.status).toBe(202);
    expect(replay.body.requeued).toBe(dead.length);
    await eventually(async () => (received.size === dead.length ? true : undefined), 30_000, "every replay delivered");
    expect([...received.keys()].sort()).toEqual(dead.map((m) => m.id).sort());
    expect(badSignatures).toBe(0);
    expect(finals).toEqual(expected);
    const after = await api.send("GET", `/api/v1/webhook-messages?endpointId=${endpointId}&status=DEAD&limit=100`);
    expect(after.body.data).toEqual([]);
    recordFigures("webhooks: receiver down → DLQ → replay", {
      faults: dead.length * ATTEMPTS,
      payouts: PAYOUTS,
      lost: dead.length - received.size,
    });
  }, 120_000);

  it("never writes an API key or a webhook secret to a log, even at trace level", async () => {
    const api = new RestClient(services.url("gateway"));
    const admin = new RestClient(services.url("gateway"), ADMIN_KEY);
    const known = [SANDBOX_KEY, ADMIN_KEY];
    // Hand out and use more secrets: a new key, a rotated secret, bad and revoked keys.
    const key = await admin.send("POST", "/api/v1/admin/merchants/mch_sandbox/api-keys");
    known.push(key.body.key as string);
    const endpoint = await api.send("POST", "/api/v1/webhook-endpoints", { body: { url: "http://127.0.0.1:9/x" } });
    known.push(endpoint.body.secret as string);
    const rotated = await api.send("POST", `/api/v1/webhook-endpoints/${endpoint.body.id}/rotate-secret`);
    known.push(rotated.body.secret as string);
    await new RestClient(services.url("gateway"), key.body.key as string).send("GET", "/api/v1/balance");
    await admin.send("POST", `/api/v1/admin/api-keys/${key.body.id}/revoke`);
    await new RestClient(services.url("gateway"), key.body.key as string).send("GET", "/api/v1/balance");
    await new RestClient(services.url("gateway"), "mypay_test_0123456789abcdef0123456789abcdef").send(
      "GET",
      "/api/v1/balance",
    );
    await api.send("POST", "/api/v1/payouts", { body: "{broken", headers: { "x-idempotency-key": SANDBOX_KEY } });
    expect(known.every((s) => typeof s === "string" && s.length > 8)).toBe(true);
    expect(services.output.length).toBeGreaterThan(0);
    expect(leakedSecrets(services.output, known)).toEqual([]);
    recordFigures("secrets in logs (trace level)", { faults: 3 });
  });
});
