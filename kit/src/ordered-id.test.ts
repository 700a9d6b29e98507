import { describe, expect, it } from "vitest";
import { orderedId } from "./ordered-id.ts";

describe("orderedId", () => {
  it("is 28 lowercase hex digits, starting with the creation time in milliseconds", () => {
    const before = Date.now();
    const id = orderedId();
    expect(id).toMatch(/^[0-9a-f]{28}$/);
    const millis = Number.parseInt(id.slice(0, 12), 16);
    expect(millis).toBeGreaterThanOrEqual(before);
    expect(millis).toBeLessThanOrEqual(Date.now());
  });

  it("sorts in creation order and never repeats within a process", () => {
    const ids = Array.from({ length: 50_000 }, orderedId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});
