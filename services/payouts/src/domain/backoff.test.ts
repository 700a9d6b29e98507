import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffMs } from "./backoff.ts";

const JUST_BELOW_ONE = 1 - Number.EPSILON;

describe("backoffMs", () => {
  it.each([
    // attempt, base, cap, random, expected
    [1, 1000, 300_000, 0, 0],
    [1, 1000, 300_000, 0.5, 500],
    [1, 1000, 300_000, JUST_BELOW_ONE, 999],
    [2, 1000, 300_000, JUST_BELOW_ONE, 1999],
    [3, 1000, 300_000, 0.5, 2000],
    [5, 1000, 300_000, JUST_BELOW_ONE, 15_999],
    [9, 1000, 300_000, JUST_BELOW_ONE, 255_999],
    [10, 1000, 300_000, JUST_BELOW_ONE, 299_999],
    [10, 1000, 300_000, 0.5, 150_000],
    [0, 1000, 300_000, 0.5, 500],
    [-3, 1000, 300_000, 0.5, 500],
    [5000, 1000, 300_000, 0.5, 150_000],
    [3, 0, 300_000, 0.9, 0],
  ])("attempt %i, base %i, cap %i, random %d → %i ms", (attempt, base, cap, random, expected) => {
    expect(backoffMs(attempt, base, cap, () => random)).toBe(expected);
  });

  it("stays a whole number in [0, min(cap, base·2^(attempt-1))) for any attempt and random value", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.double({ min: 0, max: JUST_BELOW_ONE, noNaN: true }),
        (attempt, base, cap, random) => {
          const delay = backoffMs(attempt, base, cap, () => random);
          const ceiling = Math.min(cap, base * 2 ** (attempt - 1));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(ceiling);
        },
      ),
    );
  });

  it("never shrinks the ceiling as attempts grow", () => {
    const ceiling = (attempt: number) => backoffMs(attempt, 250, 60_000, () => JUST_BELOW_ONE) + 1;
    for (let attempt = 1; attempt < 40; attempt++)
      expect(ceiling(attempt + 1)).toBeGreaterThanOrEqual(ceiling(attempt));
    expect(ceiling(40)).toBe(60_000);
  });

  it("uses Math.random when no source is given, within the same bounds", () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffMs(3, 1000, 300_000);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(4000);
    }
  });
});
