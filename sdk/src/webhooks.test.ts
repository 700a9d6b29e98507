import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import { isPayoutUpdatedEvent } from "./events.ts";
import { WEBHOOK_FIXTURES, webhookFixture } from "./fixtures.ts";
import { createWebhookTestServer } from "./testing.ts";
import { generateTestHeaders, signWebhook, verifyWebhook, WebhookVerificationError, webhooks } from "./webhooks.ts";

// The Standard Webhooks specification's published example.
const SPEC = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const headers = (signature: string, timestamp = SPEC.timestamp) => ({
  "webhook-id": SPEC.id,
  "webhook-timestamp": String(timestamp),
  "webhook-signature": signature,
});

describe("webhook signatures", () => {
  it("matches the specification's example vector", async () => {
    expect(await signWebhook(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
    await expect(
      verifyWebhook(SPEC.body, headers(SPEC.signature), SPEC.secret, { nowSeconds: SPEC.timestamp }),
    ).resolves.toEqual({
      test: 2432232314,
    });
  });

  it("agrees with the standardwebhooks package both ways", async () => {
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: "payout.updated", amount: "1000.00" });
    const theirs = new Webhook(SPEC.secret).sign(SPEC.id, new Date(now * 1000), body);
    expect(await signWebhook(SPEC.secret, SPEC.id, now, body)).toBe(theirs);
    const ours = await signWebhook(SPEC.secret, SPEC.id, now, body);
    expect(new Webhook(SPEC.secret).verify(body, headers(ours, now))).toEqual(JSON.parse(body));
  });

  it("accepts any of several signatures and secrets (rotation)", async () => {
    const other = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXk=";
    const both = `${await signWebhook(other, SPEC.id, SPEC.timestamp, SPEC.body)} ${SPEC.signature}`;
    const opts = { nowSeconds: SPEC.timestamp };
    await expect(verifyWebhook(SPEC.body, headers(both), SPEC.secret, opts)).resolves.toBeTruthy();
    await expect(verifyWebhook(SPEC.body, headers(SPEC.signature), [other, SPEC.secret], opts)).resolves.toBeTruthy();
  });

  it("verifies with each of more secrets than it keeps decoded, and with none of the others", async () => {
    // Enough secrets that the key cache starts again part way through, then the first secrets once more.
    const secrets = Array.from({ length: 1_100 }, (_, i) => `whsec_${btoa(`secret number ${i} of a receiver`)}`);
    const opts = { nowSeconds: SPEC.timestamp };
    for (const secret of [...secrets, ...secrets.slice(0, 3)]) {
      const signature = await signWebhook(secret, SPEC.id, SPEC.timestamp, SPEC.body);
      await expect(verifyWebhook(SPEC.body, headers(signature), secret, opts)).resolves.toBeTruthy();
    }
    const first = await signWebhook(secrets[0]!, SPEC.id, SPEC.timestamp, SPEC.body);
    await expect(verifyWebhook(SPEC.body, headers(first), secrets[1_099]!, opts)).rejects.toThrow(/no signature/);
  });

  it.each([
    ["a tampered body", '{"test": 1}', headers(SPEC.signature), /no signature matches/],
    ["a missing header", SPEC.body, { "webhook-id": SPEC.id }, /missing/],
    ["a non-numeric timestamp", SPEC.body, { ...headers(SPEC.signature), "webhook-timestamp": "soon" }, /unix seconds/],
    ["a parsed body", { test: 2432232314 } as unknown as string, headers(SPEC.signature), /raw request body/],
  ])("rejects %s", async (_, body, given, why) => {
    await expect(verifyWebhook(body, given, SPEC.secret, { nowSeconds: SPEC.timestamp })).rejects.toThrow(why);
  });

  it("rejects timestamps outside the tolerance", async () => {
    const old = verifyWebhook(SPEC.body, headers(SPEC.signature), SPEC.secret, { nowSeconds: SPEC.timestamp + 301 });
    await expect(old).rejects.toBeInstanceOf(WebhookVerificationError);
    await expect(old).rejects.toThrow(/too old/);
    const future = verifyWebhook(SPEC.body, headers(SPEC.signature), SPEC.secret, { nowSeconds: SPEC.timestamp - 301 });
    await expect(future).rejects.toThrow(/future/);
  });
});

describe("webhook signatures on each runtime's crypto", () => {
  it("signs in the caller's thread where the runtime hands out Node's crypto, not through Web Crypto", async () => {
    const webSign = vi.spyOn(crypto.subtle, "sign");
    try {
      expect(await signWebhook(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
      expect(webSign).not.toHaveBeenCalled();
    } finally {
      webSign.mockRestore();
    }
  });

  it("signs and verifies the same on Web Crypto where it does not (browsers, Deno, workers)", async () => {
    const getBuiltinModule = process.getBuiltinModule;
    const webSign = vi.spyOn(crypto.subtle, "sign");
    Object.assign(process, { getBuiltinModule: undefined });
    try {
      vi.resetModules();
      const web = await import("./webhooks.ts");
      expect(await web.signWebhook(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
      await expect(
        web.verifyWebhook(SPEC.body, headers(SPEC.signature), SPEC.secret, { nowSeconds: SPEC.timestamp }),
      ).resolves.toEqual({ test: 2432232314 });
      await expect(web.signWebhook("whsec_%%%", SPEC.id, SPEC.timestamp, SPEC.body)).rejects.toThrow(/base64/);
      expect(webSign).toHaveBeenCalledTimes(2);
    } finally {
      Object.assign(process, { getBuiltinModule });
      webSign.mockRestore();
      vi.resetModules();
    }
  });
});

describe("webhook test helpers", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

  it("generates headers that verify, into a typed event", async () => {
    const event = webhookFixture("payout.success", { "data.amount": "5.00" });
    const body = JSON.stringify(event);
    const verified = await verifyWebhook(body, await generateTestHeaders(body, secret), secret);
    expect(isPayoutUpdatedEvent(verified)).toBe(true);
    expect(verified.data.amount).toBe("5.00");
    expect(verified.status).toBe("SUCCESS");
    expect(verified.pspReference).toMatch(/^PSP/);
    expect(await webhooks.verify(body, await webhooks.generateTestHeaders(body, secret), secret)).toEqual(event);
  });

  it("rejects a wrong secret, an old timestamp, and a replay with an altered body", async () => {
    const body = JSON.stringify(webhookFixture("payout.failed"));
    const headers = await generateTestHeaders(body, secret, { id: "msg_1" });
    await expect(verifyWebhook(body, headers, "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXk=")).rejects.toThrow(
      /no signature matches/,
    );
    const old = await generateTestHeaders(body, secret, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    await expect(verifyWebhook(body, old, secret)).rejects.toThrow(/too old/);
    const altered = body.replace('"1000.00"', '"9000.00"');
    expect(altered).not.toBe(body);
    await expect(verifyWebhook(altered, headers, secret)).rejects.toThrow(/no signature matches/);
    await expect(verifyWebhook(body, headers, "whsec_!!!")).rejects.toThrow(/base64/);
  });

  it("builds a fixture for every payout status and refuses unknown ones", () => {
    for (const [name, status] of Object.entries(WEBHOOK_FIXTURES)) {
      const event = webhookFixture(name);
      expect([event.status, event.data.status, event.type, event.event]).toEqual([
        status,
        status,
        "payout.updated",
        "payout.updated",
      ]);
    }
    expect(webhookFixture("payout.retry", { "data.attempts": "3" }).data.attempts).toBe(3);
    expect(() => webhookFixture("payout.lost")).toThrow(/unknown fixture/);
    expect(() => webhookFixture("payout.success", { "data.nope": "1" })).toThrow(/no field data.nope/);
  });

  it("createWebhookTestServer hands over verified deliveries and rejects bad ones", async () => {
    const server = await createWebhookTestServer({ secret });
    try {
      const body = JSON.stringify(webhookFixture("payout.on_hold"));
      const send = async (headers: Record<string, string>) =>
        (await fetch(server.url, { method: "POST", body, headers })).status;
      expect(await send(await generateTestHeaders(body, secret))).toBe(200);
      expect((await server.next()).event.status).toBe("ON_HOLD");
      const pending = server.next().catch((e: unknown) => e);
      expect(await send({ ...(await generateTestHeaders(body, secret)), "webhook-signature": "v1,AAAA" })).toBe(400);
      expect(await pending).toBeInstanceOf(WebhookVerificationError);
      await expect(server.next(50)).rejects.toThrow(/no webhook arrived/);
      expect(server.received).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});
