import { createServer, type Server } from "node:net";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "./mesh.ts";
import { recordFigures } from "./reliability-summary.ts";
import { payoutBody, RestClient } from "./rest-client.ts";
import { ServiceSet } from "./services.ts";

/**
 * Webhook SSRF through the public API with a production notifier (loopback not allowed). Endpoint
 * URLs aimed at loopback (in every spelling), private networks, link-local and cloud metadata
 * addresses are refused when registered; an endpoint whose host became forbidden after it was
 * registered (what DNS rebinding achieves) is refused at send time. A trap listens on loopback and
 * must never see a connection. The test only ever sends traffic to loopback: refused targets are
 * refused before any connection, and no name here needs a DNS server (`localhost` is resolved
 * from the hosts file).
 */
const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "embedded SQLite";

describe(`reliability: webhook SSRF on ${engine}`, () => {
  let services: ServiceSet;
  let trap: Server;
  let trapPort = 0;
  let trapConnections = 0;

  beforeAll(async () => {
    trap = createServer((socket) => {
      trapConnections++;
      socket.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, "127.0.0.1", r));
    trapPort = (trap.address() as { port: number }).port;
    services = await ServiceSet.create(storage, { BANK_DELAY_MS: "10", NOTIFIER_RETRY_SCHEDULE: "0s" });
    await services.startAll();
  }, 120_000);

  afterAll(async () => {
    await services?.stopAll();
    trap?.close();
    await dropTestDatabases(storage);
  });

  it("refuses forbidden targets when registered and when sending, without ever connecting", async () => {
    const api = new RestClient(services.url("gateway"));
    // Registered while the sandbox allowed loopback; the address is forbidden by the time it is used.
    const rebound = await api.send("POST", "/api/v1/webhook-endpoints", {
      body: { url: `http://localhost:${trapPort}/hooks` },
    });
    expect(rebound.status).toBe(201);
    await services.kill("notifier");
    await services.start("notifier", { NOTIFIER_ALLOW_LOOPBACK: "false" });

    const p = trapPort;
    const forbidden = [
      // loopback, in every spelling the URL parser accepts
      `http://127.0.0.1:${p}/`,
      `http://127.8.9.10:${p}/`,
      `http://localhost:${p}/`,
      `http://LOCALHOST.:${p}/`,
      `http://[::1]:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[::ffff:7f00:1]:${p}/`,
      `http://2130706433:${p}/`,
      `http://0x7f000001:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://127.1:${p}/`,
      `http://0.0.0.0:${p}/`,
      `http://0:${p}/`,
      `http://[::]:${p}/`,
      // private networks
      "http://10.0.0.1/hooks",
      "http://172.16.5.4/hooks",
      "http://192.168.1.1/hooks",
      "http://100.64.0.1/hooks",
      "http://[fd12:3456::1]/hooks",
      "http://[::ffff:10.1.2.3]/hooks",
      "http://[64:ff9b::a00:1]/hooks",
      "http://[2002:a00:1::]/hooks",
      // link-local and cloud metadata
      "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
      "http://[fe80::1]/hooks",
      "http://[fd00:ec2::254]/latest/meta-data/",
      "http://100.100.100.200/latest/meta-data/",
      "http://168.63.129.16/machine",
      "http://[::ffff:169.254.169.254]/",
      // not http(s), or with credentials
      `ftp://127.0.0.1:${p}/`,
      `gopher://127.0.0.1:${p}/_SET`,
      `file:///etc/passwd`,
      "http://user:pass@93.184.216.34/",
    ];
    let refused = 0;
    for (const url of forbidden) {
      const res = await api.send("POST", "/api/v1/webhook-endpoints", { body: { url } });
      expect(res.status, `${url}: ${JSON.stringify(res.body)}`).toBe(400);
      expect((res.body.error as { param?: string }).param, url).toBe("url");
      refused++;
      // Moving an existing endpoint to a forbidden target is refused the same way.
      const moved = await api.send("PATCH", `/api/v1/webhook-endpoints/${rebound.body.id}`, { body: { url } });
      expect(moved.status, `PATCH ${url}`).toBe(400);
    }
    const listed = await api.send("GET", "/api/v1/webhook-endpoints?limit=100");
    expect((listed.body.data as { url: string }[]).map((e) => e.url)).toEqual([`http://localhost:${trapPort}/hooks`]);

    // A payout's events go to the rebound endpoint: refused at send time, dead-lettered, no connection.
    const created = await api.createUntilAnswered("ssrf-1", payoutBody("ssrf-1", "0001"));
    expect(created.status).toBe(201);
    const message = await eventually(
      async () => {
        const page = await api.send("GET", `/api/v1/webhook-messages?endpointId=${rebound.body.id}&limit=10`);
        return (page.body.data as { id: string; status: string }[]).find((m) => m.status === "DEAD");
      },
      30_000,
      "the rebound endpoint's message dead-lettered",
    );
    const attempts = await api.send("GET", `/api/v1/webhook-messages/${message.id}/attempts`);
    const [attempt] = attempts.body.data as { result: string; error: string; statusCode: number }[];
    // No HTTP status: nothing answered, because nothing was asked (the REST view shows 0 for none).
    expect(attempt).toMatchObject({ result: "refused", statusCode: 0 });
    expect(attempt?.error).toMatch(/loopback/);
    expect(trapConnections).toBe(0);
    recordFigures("webhook SSRF targets", { faults: refused * 2 + 1, fiveXx: api.fiveXx });
  }, 120_000);
});
