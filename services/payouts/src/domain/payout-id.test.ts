import { describe, expect, it } from "vitest";
import { payoutIdFor } from "./payout-id.ts";

describe("payoutIdFor", () => {
  it("is deterministic for one merchant and key", () => {
    expect(payoutIdFor("m_1", "key-1")).toBe(payoutIdFor("m_1", "key-1"));
  });

  it("is a short, URL-safe id that fits the payouts.id column", () => {
    const id = payoutIdFor("m_1", "key-1");
    expect(id).toMatch(/^po_[A-Za-z0-9_-]{24}$/);
    expect(id.length).toBeLessThanOrEqual(32);
  });

  it("differs by merchant and by key", () => {
    const ids = new Set([
      payoutIdFor("m_1", "key-1"),
      payoutIdFor("m_2", "key-1"),
      payoutIdFor("m_1", "key-2"),
      payoutIdFor("m_1", "Key-1"),
      payoutIdFor("m_1", "key-1 "),
    ]);
    expect(ids.size).toBe(5);
  });

  it("does not confuse where the merchant ends and the key begins", () => {
    expect(payoutIdFor("m_1", "2key")).not.toBe(payoutIdFor("m_12", "key"));
    expect(payoutIdFor("ab", "c")).not.toBe(payoutIdFor("a", "bc"));
  });

  it("gives distinct ids across many keys", () => {
    const ids = new Set(Array.from({ length: 10_000 }, (_, i) => payoutIdFor("m_1", `order-${i}`)));
    expect(ids.size).toBe(10_000);
  });
});
