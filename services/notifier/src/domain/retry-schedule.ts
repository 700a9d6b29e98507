/**
 * Retry schedules such as `0s,5s,5m,30m,2h,5h,10h,10h`: entry n is the wait before attempt n+1,
 * counted from the previous failure (the first, usually 0s, from publication). The schedule's
 * length is the number of attempts; after the last one fails the message is dead-lettered.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;

/** The longest single wait accepted, so a typo cannot park a message for years. */
export const MAX_RETRY_DELAY_MS = 7 * UNIT_MS.d;
export const MAX_ATTEMPTS = 50;

/** Share of each wait added or removed at random, so failed endpoints are not retried in lockstep. */
export const JITTER = 0.1;

/** Milliseconds of a duration written as a whole number and a unit: `250ms`, `5s`, `30m`, `2h`, `1d`. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration such as 500ms, 5s, 30m, 2h or 1d`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms > MAX_RETRY_DELAY_MS) throw new Error(`"${text}" is longer than 7d`);
  return ms;
}

/** Parses a comma-separated schedule into waits in milliseconds. Throws with a message naming the bad entry. */
export function parseRetrySchedule(text: string): number[] {
  const parts = text.split(",").map((part) => part.trim());
  if (parts.length === 0 || parts.some((part) => part === "")) throw new Error("must be a comma-separated list");
  if (parts.length > MAX_ATTEMPTS) throw new Error(`at most ${MAX_ATTEMPTS} attempts`);
  return parts.map(parseDuration);
}

/** `ms` moved by up to ±10%, with `random()` in [0, 1). */
export function withJitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (1 - JITTER + 2 * JITTER * random()));
}

/** When the first attempt of a new message is due. */
export function firstAttemptAt(schedule: readonly number[], now: Date, random: () => number = Math.random): Date {
  return new Date(now.getTime() + withJitter(schedule[0] ?? 0, random));
}

/**
 * When the next attempt is due after `attemptsMade` failed attempts, or undefined when the
 * schedule is used up and the message is dead.
 */
export function nextAttemptAt(
  schedule: readonly number[],
  attemptsMade: number,
  now: Date,
  random: () => number = Math.random,
): Date | undefined {
  const wait = schedule[attemptsMade];
  if (wait === undefined) return undefined;
  return new Date(now.getTime() + withJitter(wait, random));
}
