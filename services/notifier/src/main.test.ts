import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { createLogger, createRpcClient, MERCHANT_HEADER, openDatabase, storageEnv, testStorage } from "@mypay/kit";
import { NotifierService, WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { startReceiver, until } from "./delivery/test-receiver.ts";
import { entities } from "./store/entities.ts";
import { migrations } from "./store/migrations/index.ts";

const root = resolve(import.meta.dirname, "../../..");
const storage = testStorage();
let child: ChildProcess | undefined;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL");
    await once(child, "exit");
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
    child = spawn(process.execPath, ["services/notifier/src/main.ts"], {
      cwd: root,
      env: { ...process.env, ...storageEnv(storage), NOTIFIER_PORT: String(port), LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    const base = `http://127.0.0.1:${port}`;
    await until(
      async () => {
        if (child?.exitCode !== null) throw new Error(`notifier exited early:\n${output.join("")}`);
        return fetch(`${base}/readyz`).then(
          (res) => res.ok,
          () => false,
        );
      },
      () => sleep(100),
      30_000,
    );

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

      await until(
        () => receiver.received.length > 0,
        () => sleep(50),
        10_000,
      );
      const [request] = receiver.received;
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
});
