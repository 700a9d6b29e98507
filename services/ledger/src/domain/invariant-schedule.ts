/** Longest share of the time the periodic invariant check may keep the database busy. */
export const INVARIANT_CHECK_DUTY = 0.1;

/**
 * How long to wait after an invariant check before the next one: the configured interval, or longer when
 * the last check itself took long, so that checking never takes more than `INVARIANT_CHECK_DUTY` of the
 * time. The check reads every row, so it slows as the books grow; without this a large book would have the
 * database proving it most of the time.
 */
export function nextInvariantCheckMs(intervalMs: number, lastCheckMs: number): number {
  return Math.max(intervalMs, Math.ceil((lastCheckMs * (1 - INVARIANT_CHECK_DUTY)) / INVARIANT_CHECK_DUTY));
}
