import { randomInt } from "node:crypto";
import { count, parseConfig } from "@mypay/kit";

const MAX_SEED = 2 ** 31 - 1;

/**
 * Knobs of the reliability suite, validated once (a bad value fails the run naming the variable).
 * The defaults keep CI bounded; `npm run test:chaos` raises them.
 */
const settings = parseConfig({
  /** Length of the chaos test's create load, in seconds. */
  CHAOS_SECONDS: count(20, 3_600),
  /** Length of the load around the database server crash, in seconds. */
  RELIABILITY_DB_LOAD_SECONDS: count(10, 3_600),
  /** REST cases of the fuzz test (each RPC protocol runs half as many, at most 2,000). */
  RELIABILITY_FUZZ_RUNS: count(400, 1_000_000),
  /** Replays a fuzz run: the seed it printed. */
  RELIABILITY_FUZZ_SEED: count(1, MAX_SEED),
});

export const chaosSeconds = settings.CHAOS_SECONDS;
export const databaseLoadSeconds = settings.RELIABILITY_DB_LOAD_SECONDS;
export const fuzzRuns = settings.RELIABILITY_FUZZ_RUNS;
export const fuzzSeed = process.env.RELIABILITY_FUZZ_SEED ? settings.RELIABILITY_FUZZ_SEED : randomInt(1, MAX_SEED);
