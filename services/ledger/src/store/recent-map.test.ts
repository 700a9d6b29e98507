import { describe, expect, it } from "vitest";
import { RecentMap } from "./recent-map.ts";

describe("RecentMap", () => {
  it("remembers at least one generation of the latest entries and forgets the oldest first", () => {
    const map = new RecentMap<number, string>(3);
    for (let i = 1; i <= 7; i++) map.set(i, `v${i}`);
    // Generations: [1,2,3] dropped, [4,5,6] older, [7] newer.
    expect([1, 2, 3].map((k) => map.has(k))).toEqual([false, false, false]);
    expect([4, 5, 6, 7].map((k) => map.get(k))).toEqual(["v4", "v5", "v6", "v7"]);
  });

  it("updates a key of the newer generation in place without turning a generation over", () => {
    const map = new RecentMap<string, number>(2);
    map.set("a", 1);
    map.set("b", 2);
    map.set("b", 3);
    expect(map.get("a")).toBe(1);
    expect(map.get("b")).toBe(3);
  });

  it("answers the newer value of a key set again after its generation aged", () => {
    const map = new RecentMap<string, number>(1);
    map.set("a", 1);
    map.set("b", 2);
    map.set("a", 3);
    expect(map.get("a")).toBe(3);
  });

  it("rejects a generation that is not a positive integer", () => {
    expect(() => new RecentMap(0)).toThrow(RangeError);
    expect(() => new RecentMap(1.5)).toThrow(RangeError);
  });
});
