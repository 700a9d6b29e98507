import { describe, expect, it } from "vitest";
import { seedRate } from "./seed-rate.ts";

/** Receipts of `count` payouts settled in one batch at `at` ms, 50 ms apart as the notifier delivers them. */
const batch = (at: number, count = 10) => Array.from({ length: count }, (_, i) => at + i * 50);

describe("seed configuration rate", () => {
  it("is ten payouts per batch interval, over whole batches", () => {
    const receipts = [...batch(4_000), ...batch(14_000), ...batch(24_000)];
    expect(seedRate(receipts, 30_000)).toEqual({ settled: 30, perSecond: 1, lowerBound: false });
  });

  it("leaves out a last batch the window closed on halfway", () => {
    const receipts = [...batch(4_000), ...batch(14_000), ...batch(24_000, 3)];
    expect(seedRate(receipts, 30_000)).toEqual({ settled: 23, perSecond: 1, lowerBound: false });
  });

  it("does not charge the wait for the first tick to the rate", () => {
    const receipts = [...batch(9_000), ...batch(19_000)];
    expect(seedRate(receipts, 30_000).perSecond).toBe(1);
  });

  it("counts over the window, as a lower bound, when it holds one batch only", () => {
    expect(seedRate(batch(4_000), 20_000)).toEqual({ settled: 10, perSecond: 0.5, lowerBound: true });
    expect(seedRate([], 20_000)).toEqual({ settled: 0, perSecond: 0, lowerBound: true });
  });
});
