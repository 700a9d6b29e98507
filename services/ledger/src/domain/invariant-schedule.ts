/**
 * After a check, the next waits at least this many times as long as the check took: checking then keeps the
 * database busy at most a tenth of the time.
 */
export const INVARIANT_CHECK_SPACING = 9;

/**
 * How long to wait after an invariant check before the next one: the configured interval, or longer when
 * the last check itself took long. A check reads what changed since the last one (everything, the first
 * time): without this a burst of activity, or a first check of a large book, could keep the database
 * proving it most of the time.
 */
export function nextInvariantCheckMs(intervalMs: number, lastCheckMs: number): number {
  return Math.max(intervalMs, Math.ceil(lastCheckMs * INVARIANT_CHECK_SPACING));
}
