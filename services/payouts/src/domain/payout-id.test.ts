import { describe, expect, it } from "vitest";
import { newPayoutId } from "./payout-id.ts";

describe("newPayoutId", () => {
  it("is a short, URL-safe id that fits the payouts.id column", () => {
    const id = newPayoutId();
    expect(id).toMatch(/^po_[0-9a-f]{28}$/);
    expect(id.length).toBeLessThanOrEqual(32);
  });

  it("sorts by creation and never repeats", () => {
    const ids = Array.from({ length: 10_000 }, newPayoutId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});
