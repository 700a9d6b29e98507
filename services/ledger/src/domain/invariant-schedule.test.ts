import { describe, expect, it } from "vitest";
import { nextInvariantCheckMs } from "./invariant-schedule.ts";

describe("nextInvariantCheckMs", () => {
  it("keeps the configured interval while checks are quick", () => {
    expect(nextInvariantCheckMs(60_000, 0)).toBe(60_000);
    expect(nextInvariantCheckMs(60_000, 5_000)).toBe(60_000);
  });

  it("spaces slow checks so that checking takes at most a tenth of the time, and no less", () => {
    for (const lastCheckMs of [6_667, 20_000, 600_000, 12_345.6]) {
      const waitMs = nextInvariantCheckMs(60_000, lastCheckMs);
      expect(waitMs).toBeGreaterThan(60_000);
      expect(lastCheckMs / (lastCheckMs + waitMs)).toBeLessThanOrEqual(0.1);
      // A millisecond less and checking would take more than a tenth: the wait is no longer than it must be.
      expect(lastCheckMs / (lastCheckMs + waitMs - 1)).toBeGreaterThan(0.1);
    }
    expect(nextInvariantCheckMs(60_000, 20_000)).toBe(180_000);
  });
});
