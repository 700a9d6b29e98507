import { describe, expect, it } from "vitest";
import { BatchLoop } from "./batch-loop.ts";
import { createLogger } from "./logger.ts";

/**
 * A loop whose rounds follow `script`: each step may wake the loop (at once or mid-round) and says whether
 * to go on. Answers how many rounds ran, and fails if two ever ran at once.
 */
async function runScript(
  script: Array<{ wakeAtOnce?: boolean; wake?: boolean; read?: boolean; more: boolean }>,
): Promise<number> {
  let rounds = 0;
  let inFlight = 0;
  let overlapped = false;
  let settled: () => void = () => {};
  const idle = new Promise<void>((resolve) => {
    settled = resolve;
  });
  const loop = new BatchLoop({
    name: "test",
    tickSeconds: 59,
    logger: createLogger("batch-loop-test", "silent"),
    round: async () => {
      const step = script[rounds++] ?? { more: false };
      if (++inFlight > 1) overlapped = true;
      if (step.wakeAtOnce) loop.wake();
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (step.wake) loop.wake();
      if (step.read) loop.readingDue();
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (rounds >= script.length) setTimeout(settled, 50);
      inFlight--;
      return step.more;
    },
  });
  loop.wake();
  await idle;
  await loop.stop();
  if (overlapped) throw new Error("two rounds ran at once");
  return rounds;
}

describe("BatchLoop", () => {
  it("runs one more round for a wake during the last round of a drain", async () => {
    expect(await runScript([{ wake: true, more: false }, { more: false }])).toBe(2);
  });

  it("lets the next round of a drain answer a wake during the round before it", async () => {
    // The handed-over work of the wake is taken by round 2; a third round would find nothing.
    expect(await runScript([{ wake: true, more: true }, { more: false }])).toBe(2);
  });

  it("needs no other round for a wake that came before the round read what is due", async () => {
    expect(await runScript([{ wake: true, read: true, more: false }])).toBe(1);
  });

  it("never runs two rounds at once, even for a wake before the round's first await", async () => {
    expect(await runScript([{ wakeAtOnce: true, more: false }, { more: false }])).toBe(2);
  });

  it("goes on while rounds find full batches, and stops at the first that does not", async () => {
    expect(await runScript([{ more: true }, { more: true }, { more: false }])).toBe(3);
  });
});
