import { afterEach, describe, expect, it } from "vitest";
import { newIdempotencyKey, randomHex } from "./ids.ts";

const randomUUID = crypto.randomUUID;
afterEach(() => {
  crypto.randomUUID = randomUUID;
});

describe("ids", () => {
  it("makes UUID v4 idempotency keys and 128-bit hex ids, all different", () => {
    const keys = new Set(Array.from({ length: 1000 }, newIdempotencyKey));
    expect(keys.size).toBe(1000);
    for (const key of keys)
      expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(randomHex()).toMatch(/^[0-9a-f]{32}$/);
  });

  it("works where crypto.randomUUID is missing (a page outside a secure context)", () => {
    // @ts-expect-error: removed on purpose, as browsers do on http:// pages other than localhost
    crypto.randomUUID = undefined;
    expect(newIdempotencyKey()).toMatch(/^[0-9a-f-]{36}$/);
    expect(randomHex()).toHaveLength(32);
  });
});
