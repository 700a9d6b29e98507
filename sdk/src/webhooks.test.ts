import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { signWebhook, verifyWebhook, WebhookVerificationError } from "./webhooks.ts";

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
