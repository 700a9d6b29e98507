import { describe, expect, it } from "vitest";
import { firstAttemptAt, nextAttemptAt, parseDuration, parseRetrySchedule, withJitter } from "./retry-schedule.ts";

describe("retry schedule", () => {
  it("parses the default schedule", () => {
    expect(parseRetrySchedule("0s,5s,5m,30m,2h,5h,10h,10h")).toEqual([
      0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    expect(parseRetrySchedule(" 250ms , 1d ")).toEqual([250, 86_400_000]);
  });

  it("refuses malformed entries with a message naming them", () => {
    expect(() => parseDuration("5")).toThrow(/"5"/);
    expect(() => parseDuration("-5s")).toThrow();
    expect(() => parseDuration("1.5s")).toThrow();
    expect(() => parseDuration("8d")).toThrow(/7d/);
    expect(() => parseRetrySchedule("")).toThrow();
    expect(() => parseRetrySchedule("5s,,5s")).toThrow();
    expect(() => parseRetrySchedule(Array(51).fill("1s").join(","))).toThrow(/50/);
  });

  it("keeps jitter within ±10%", () => {
    expect(withJitter(10_000, () => 0)).toBe(9_000);
    expect(withJitter(10_000, () => 0.5)).toBe(10_000);
    expect(withJitter(10_000, () => 0.999999)).toBe(11_000);
    expect(withJitter(0, () => 0.9)).toBe(0);
    for (let i = 0; i < 1000; i++) {
      const ms = withJitter(300_000);
      expect(ms).toBeGreaterThanOrEqual(270_000);
      expect(ms).toBeLessThanOrEqual(330_000);
    }
  });

  it("waits entry n after the n-th failure and gives up after the last entry", () => {
    const schedule = [0, 5_000, 60_000];
    const now = new Date("2026-01-01T00:00:00Z");
    const half = () => 0.5;
    expect(firstAttemptAt(schedule, now, half)).toEqual(now);
    expect(nextAttemptAt(schedule, 1, now, half)?.getTime()).toBe(now.getTime() + 5_000);
    expect(nextAttemptAt(schedule, 2, now, half)?.getTime()).toBe(now.getTime() + 60_000);
    expect(nextAttemptAt(schedule, 3, now, half)).toBeUndefined();
  });
});
