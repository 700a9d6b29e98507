/**
 * After a check, the next waits at least this many times as long as the check took: checking then keeps the
 * database busy at most a tenth of the time.
 */
export const INVARIANT_CHECK_SPACING = 9;

/**
 * How long to wait after an invariant check before the next one: the configured interval, or longer when
 * the last check itself took long. The check reads every row, so it slows as the books grow; without this a
 * large book would have the database proving it most of the time.
 */
export function nextInvariantCheckMs(intervalMs: number, lastCheckMs: number): number {
  return Math.max(intervalMs, Math.ceil(lastCheckMs * INVARIANT_CHECK_SPACING));
}
