import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { generateSecret, SECRET_PREFIX, secretKey, sign, webhookHeaders } from "./signature.ts";

// The example in the Standard Webhooks specification.
const SPEC = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  messageId: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

describe("webhook signing", () => {
  it("reproduces the specification's example signature", () => {
    expect(sign(SPEC.secret, SPEC.messageId, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
  });

  it("agrees with the standardwebhooks library on the example and on fresh secrets", () => {
    const reference = new Webhook(SPEC.secret).sign(SPEC.messageId, new Date(SPEC.timestamp * 1000), SPEC.body);
    expect(reference).toBe(SPEC.signature);
    for (let i = 0; i < 20; i++) {
      const secret = generateSecret();
      const body = JSON.stringify({ type: "payout.updated", n: i, text: "ünïcødé ✓" });
      const timestamp = 1_700_000_000 + i * 37;
      const ours = sign(secret, `msg_${i}`, timestamp, body);
      expect(ours).toBe(new Webhook(secret).sign(`msg_${i}`, new Date(timestamp * 1000), body));
    }
  });

  it("builds headers the standardwebhooks library verifies", () => {
    const secret = generateSecret();
    const body = '{"type":"payout.updated","payoutId":"po_1"}';
    const headers = webhookHeaders({
      messageId: "msg_abc",
      timestamp: Math.floor(Date.now() / 1000),
      body,
      secrets: [secret],
    });
    expect(headers["webhook-id"]).toBe("msg_abc");
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });

  it("signs with every secret during a rotation, each verifiable on its own", () => {
    const [previous, current] = [generateSecret(), generateSecret()];
    const body = "{}";
    const headers = webhookHeaders({
      messageId: "msg_rot",
      timestamp: Math.floor(Date.now() / 1000),
      body,
      secrets: [current, previous],
    });
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(new Webhook(current).verify(body, headers)).toEqual({});
    expect(new Webhook(previous).verify(body, headers)).toEqual({});
  });

  it("makes secrets of 32 random bytes and refuses malformed ones", () => {
    const a = generateSecret();
    expect(a.startsWith(SECRET_PREFIX)).toBe(true);
    expect(secretKey(a)).toHaveLength(32);
    expect(generateSecret()).not.toBe(a);
    expect(() => secretKey("sk_abc")).toThrow(/whsec_/);
    expect(() => secretKey("whsec_")).toThrow();
    expect(() => webhookHeaders({ messageId: "m", timestamp: 1, body: "{}", secrets: [] })).toThrow();
  });
});
