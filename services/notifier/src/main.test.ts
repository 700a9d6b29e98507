import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import {
  createLogger,
  createRpcClient,
  freePort,
  hasExited,
  MERCHANT_HEADER,
  openDatabase,
  storageEnv,
  testStorage,
  waitUntilReady,
} from "@mypay/kit";
import { MessageStatus, NotifierService, WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { startReceiver, until } from "./delivery/test-receiver.ts";
import { entities } from "./store/entities.ts";
import { migrations } from "./store/migrations/index.ts";

const root = resolve(import.meta.dirname, "../../..");
const storage = testStorage();

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

const children: ChildProcess[] = [];

/** Starts the notifier on `port` and waits until it is ready; `output` collects what it prints. */
async function startNotifier(
  port: number,
  env: Record<string, string> = {},
  output: string[] = [],
): Promise<ChildProcess> {
  const started = spawn(process.execPath, ["services/notifier/src/main.ts"], {
    cwd: root,
    env: { ...process.env, ...storageEnv(storage), NOTIFIER_PORT: String(port), LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(started);
  started.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  started.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  await waitUntilReady(started, `http://127.0.0.1:${port}`, {
    name: "notifier",
    withinMs: 30_000,
    details: () => output.join(""),
  });
  return started;
}

afterAll(async () => {
  for (const running of children) {
    if (!hasExited(running)) {
      running.kill("SIGKILL");
      await once(running, "exit");
    }
  }
  if (storage.DATABASE_URL) {
    const db = await openDatabase({
      service: "notifier",
      settings: storage,
      entities,
      migrations,
      logger: createLogger("notifier-test", "silent"),
    });
    await db.orm.schema.dropDatabase();
    await db.close();
  }
});

describe("notifier process", () => {
  it("takes an endpoint and an event over gRPC and delivers the webhook", async () => {
    const port = await freePort();
    const output: string[] = [];
    const child = await startNotifier(port, {}, output);
    const base = `http://127.0.0.1:${port}`;

    const receiver = await startReceiver(() => ({ status: 200, body: "ok" }));
    try {
      const client = createRpcClient(NotifierService, base, { timeoutMs: 5_000 });
      const endpoints = createRpcClient(WebhookEndpointService, base, { timeoutMs: 5_000 });
      const headers = { [MERCHANT_HEADER]: "mch_process" };
      const { endpoint, secret } = await endpoints.createEndpoint(
        { url: receiver.url, description: "process test", eventTypes: ["payout.updated"] },
        { headers },
      );
      expect(endpoint?.merchantId).toBe("mch_process");
      const payloadJson = JSON.stringify({ type: "payout.updated", event: "payout.updated", payoutId: "po_proc" });
      const published = await client.publish({
        events: [{ id: `evt_proc_${Date.now()}`, type: "payout.updated", merchantId: "mch_process", payloadJson }],
      });
      expect(published.accepted).toBe(1);

      // Other test runs share loopback ports, so pick this run's webhook out by its body.
      const ours = () => receiver.received.find((r) => r.body === payloadJson);
      await until(
        () => ours() !== undefined,
        () => sleep(50),
        10_000,
      );
      const request = ours();
      expect(request?.body).toBe(payloadJson);
      const signed = Object.fromEntries(
        ["webhook-id", "webhook-timestamp", "webhook-signature"].map((k) => [k, String(request?.headers[k])]),
      );
      expect(new Webhook(secret).verify(request!.body, signed)).toEqual(JSON.parse(payloadJson));

      await until(
        async () =>
          (await (await fetch(`${base}/metrics`)).text()).includes('webhook_attempts_total{result="delivered"'),
        () => sleep(50),
        5_000,
      );
    } finally {
      await receiver.close();
    }

    child.kill("SIGTERM");
    const [code] = (await Promise.race([once(child, "exit"), sleep(15_000).then(() => ["timeout"])])) as [unknown];
    expect(code, output.join("")).toBe(0);
  }, 60_000);

  it("delivers every message at least once after the process is killed with deliveries in flight", async () => {
    const port = await freePort();
    // Slow answers keep deliveries in flight when the process dies; a short lease brings them back soon.
    const settings = {
      NOTIFIER_TIMEOUT_MS: "2000",
      NOTIFIER_LEASE_MARGIN_MS: "500",
      NOTIFIER_RETRY_SCHEDULE: "0s,1s,1s",
    };
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 150 }));
    try {
      let notifier = await startNotifier(port, settings);
      const base = `http://127.0.0.1:${port}`;
      const endpoints = createRpcClient(WebhookEndpointService, base, { timeoutMs: 5_000 });
      const headers = { [MERCHANT_HEADER]: "mch_crash" };
      await endpoints.createEndpoint({ url: receiver.url }, { headers });
      await endpoints.createEndpoint({ url: `${receiver.url}?second` }, { headers });
      const total = 40;
      const stamp = Date.now();
      await createRpcClient(NotifierService, base, { timeoutMs: 5_000 }).publish({
        events: Array.from({ length: total }, (_, i) => ({
          id: `evt_crash_${stamp}_${i}`,
          type: "payout.updated",
          merchantId: "mch_crash",
          payloadJson: JSON.stringify({ n: i }),
        })),
      });
      await until(
        () => receiver.received.length >= 4,
        () => sleep(10),
        10_000,
      );
      notifier.kill("SIGKILL");
      await once(notifier, "exit");
      const beforeRestart = new Set(receiver.received.map((r) => String(r.headers["webhook-id"]))).size;
      expect(beforeRestart).toBeLessThan(total * 2);

      notifier = await startNotifier(port, settings);
      const ids = () => new Set(receiver.received.map((r) => String(r.headers["webhook-id"])));
      await until(
        () => ids().size >= total * 2,
        () => sleep(100),
        30_000,
      );
      // Every message ends DELIVERED: none was lost with the killed process.
      const deliveredCount = async () => {
        let count = 0;
        let startingAfter = "";
        for (;;) {
          const page = await endpoints.listMessages(
            { status: MessageStatus.DELIVERED, page: { limit: 100, startingAfter } },
            { headers },
          );
          count += page.messages.length;
          if (!page.hasMore) return count;
          startingAfter = page.messages.at(-1)!.id;
        }
      };
      await until(
        async () => (await deliveredCount()) === total * 2,
        () => sleep(100),
        10_000,
      );
      expect(ids().size).toBe(total * 2);
      notifier.kill("SIGTERM");
      await once(notifier, "exit");
    } finally {
      await receiver.close();
    }
  }, 60_000);
});
