import { describe, expect, it } from "vitest";
import { INVARIANT_CHECK_DUTY, nextInvariantCheckMs } from "./invariant-schedule.ts";

describe("nextInvariantCheckMs", () => {
  it("keeps the configured interval while checks are quick", () => {
    expect(nextInvariantCheckMs(60_000, 0)).toBe(60_000);
    expect(nextInvariantCheckMs(60_000, 5_000)).toBe(60_000);
  });

  it("spaces slow checks so that checking takes at most its duty share of the time", () => {
    for (const lastCheckMs of [6_667, 20_000, 600_000]) {
      const waitMs = nextInvariantCheckMs(60_000, lastCheckMs);
      expect(waitMs).toBeGreaterThan(60_000);
      expect(lastCheckMs / (lastCheckMs + waitMs)).toBeLessThanOrEqual(INVARIANT_CHECK_DUTY);
      expect(lastCheckMs / (lastCheckMs + waitMs + 1)).toBeLessThan(INVARIANT_CHECK_DUTY);
    }
    expect(nextInvariantCheckMs(60_000, 20_000)).toBe(180_000);
  });
});
