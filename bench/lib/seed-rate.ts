/**
 * The seed configuration's settled/s from its webhook receipts (ms into the window). The old poller
 * settles ten payouts at once, about every 10 s, after waiting up to one 5 s tick for the first batch; a
 * count over the whole window would charge that start-up to the rate (0.50 or 0.67/s against a steady
 * 1.0/s). So the rate runs from the first batch's first receipt to the last batch's first, over the
 * batches before the last: the window may close in the middle of the last one. Receipts more than 2 s
 * apart belong to different batches. A window that holds one batch only gives the count over the
 * window: a lower bound.
 */
export function seedRate(receipts: number[], windowMs: number) {
  const lastBatch = receipts.findLastIndex((at, i) => i > 0 && at - receipts[i - 1]! > 2_000);
  return lastBatch === -1
    ? { settled: receipts.length, perSecond: receipts.length / (windowMs / 1000), lowerBound: true }
    : {
        settled: receipts.length,
        perSecond: lastBatch / ((receipts[lastBatch]! - receipts[0]!) / 1000),
        lowerBound: false,
      };
}
