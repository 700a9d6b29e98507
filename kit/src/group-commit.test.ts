import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { GroupCommitter } from "./group-commit.ts";

describe("GroupCommitter", () => {
  it("commits concurrent items in one group, each with its own outcome", async () => {
    const groups: number[][] = [];
    const gc = new GroupCommitter<number, number>({ maxWaitMs: 2, maxBatch: 100, concurrency: 2 }, async (items) => {
      groups.push(items);
      return items.map((i) => (i === 3 ? { ok: false, error: new Error("duplicate") } : { ok: true, value: i * 10 }));
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => gc.submit(i)));
    expect(groups).toEqual([[1, 2, 3, 4]]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message))).toEqual([
      10,
      20,
      "duplicate",
      40,
    ]);
  });

  it("with no window, commits what was submitted in the same turn together and flushes without a timer", async () => {
    const groups: number[][] = [];
    const gc = new GroupCommitter<number, number>({ maxWaitMs: 0, maxBatch: 100, concurrency: 1 }, async (items) => {
      groups.push(items);
      await sleep(5);
      return items.map((i) => ({ ok: true, value: i }));
    });
    const first = [1, 2, 3].map((i) => gc.submit(i));
    await Promise.resolve();
    // While the first commit is in flight, later items gather for the next one.
    await sleep(1);
    const second = [4, 5].map((i) => gc.submit(i));
    expect(await Promise.all([...first, ...second])).toEqual([1, 2, 3, 4, 5]);
    expect(groups).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it("flushes at maxBatch, keeps at most `concurrency` commits in flight, and fails a group's items with its error", async () => {
    let inFlight = 0;
    let most = 0;
    const gc = new GroupCommitter<number, number>({ maxWaitMs: 1, maxBatch: 3, concurrency: 2 }, async (items) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await sleep(5);
      inFlight--;
      if (items.includes(99)) throw new Error("commit failed");
      return items.map((i) => ({ ok: true, value: i }));
    });
    const values = await Promise.all(Array.from({ length: 20 }, (_, i) => gc.submit(i)));
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(most).toBeLessThanOrEqual(2);
    await expect(gc.submit(99)).rejects.toThrow("commit failed");
  });
});
