import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AttemptResult } from "../domain/delivery.ts";
import { type Answer, startReceiver } from "./test-receiver.ts";
import { type Delivery, EXCERPT_BYTES, WebhookSender } from "./webhook-sender.ts";

const policy = { allowLoopback: true, resolve: async () => [{ address: "127.0.0.1", family: 4 }] };
const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
if (!hasOpenssl) console.warn("SKIPPED: the https receiver test needs the openssl command to make a certificate");
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sender(timeoutMs = 5_000): WebhookSender {
  const created = new WebhookSender({ policy, timeoutMs });
  cleanups.push(() => created.close());
  return created;
}

function delivery(url: string): Delivery {
  return {
    messageId: "msg_1",
    url,
    secrets: ["whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ="],
    body: '{"type":"payout.updated"}',
  };
}

async function receiver(answer: (n: number) => Answer) {
  const started = await startReceiver((_, n) => answer(n));
  cleanups.push(() => started.close());
  return started;
}

describe("WebhookSender", () => {
  it("keeps one connection for consecutive attempts to a receiver", async () => {
    const target = await receiver(() => ({ status: 204 }));
    const send = sender();
    for (let i = 0; i < 3; i++) {
      expect((await send.send(delivery(target.url))).result).toBe(AttemptResult.DELIVERED);
    }
    expect(target.received).toHaveLength(3);
    expect(target.connections()).toBe(1);
  });

  it("keeps the start of a long answer and drops its connection rather than reading it all", async () => {
    const long = "x".repeat(1024 * 1024);
    const target = await receiver((n) => (n === 0 ? { status: 200, body: long } : { status: 200, body: "ok" }));
    const send = sender();
    const first = await send.send(delivery(target.url));
    expect(first).toMatchObject({ result: AttemptResult.DELIVERED, statusCode: 200 });
    expect(first.responseExcerpt).toBe(long.slice(0, EXCERPT_BYTES));
    const second = await send.send(delivery(target.url));
    expect(second).toMatchObject({ result: AttemptResult.DELIVERED, responseExcerpt: "ok" });
    expect(target.connections()).toBe(2);
  });

  it("does not follow a redirect", async () => {
    const target = await receiver(() => ({ status: 307, headers: { location: "/elsewhere" } }));
    const outcome = await sender().send(delivery(target.url));
    expect(outcome).toMatchObject({ result: AttemptResult.HTTP_ERROR, statusCode: 307, error: "HTTP 307" });
    expect(target.received).toHaveLength(1);
  });

  it("waits for a slow answer past the pool's idle limit, within the time limit", async () => {
    const target = await receiver(() => ({ status: 200, body: "late", delayMs: 4_500 }));
    const outcome = await sender(10_000).send(delivery(target.url));
    expect(outcome).toMatchObject({ result: AttemptResult.DELIVERED, responseExcerpt: "late" });
  }, 15_000);

  it("counts an answer that does not finish within the timeout as a timeout", async () => {
    const target = await receiver(() => ({ status: 200, delayMs: 2_000 }));
    const outcome = await sender(200).send(delivery(target.url));
    expect(outcome).toMatchObject({ result: AttemptResult.TIMEOUT, error: "no response within 200 ms" });
    expect(outcome.latencyMs).toBeLessThan(1_500);
  });

  it("delivers to an IPv6 loopback literal", async (ctx) => {
    const server = createHttpServer((req, res) => {
      req.resume();
      res.end("ok");
    });
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(0, "::1", () => resolve(true));
    });
    if (!listening) {
      console.warn("SKIPPED: this machine has no IPv6 loopback");
      return ctx.skip();
    }
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as AddressInfo;
    const outcome = await sender().send(delivery(`http://[::1]:${port}/webhooks`));
    expect(outcome).toMatchObject({ result: AttemptResult.DELIVERED, statusCode: 200, responseExcerpt: "ok" });
  });

  it("ends an answer whose body stalls at the time limit, keeping its status and first bytes", async () => {
    const server = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/plain", "content-length": "100" });
      res.write("accepted"); // and the other 92 bytes never come
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    cleanups.push(() => server.closeAllConnections());
    const { port } = server.address() as AddressInfo;

    const started = Date.now();
    const outcome = await sender(300).send(delivery(`http://127.0.0.1:${port}/webhooks`));
    expect(outcome).toMatchObject({ result: AttemptResult.DELIVERED, statusCode: 200, responseExcerpt: "accepted" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it.skipIf(!hasOpenssl)("speaks TLS to https receivers and refuses one whose certificate is not trusted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "webhook-tls-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"],
        ...["-keyout", key, "-out", cert],
      ],
      { stdio: "ignore" },
    );
    let requests = 0;
    const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_, res) => {
      requests++;
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as AddressInfo;

    const outcome = await sender().send(delivery(`https://127.0.0.1:${port}/webhooks`));
    expect(outcome.result).toBe(AttemptResult.NETWORK_ERROR);
    expect(outcome.error).toMatch(/self-signed certificate/);
    expect(requests).toBe(0);
  });
});
