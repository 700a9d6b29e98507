import { BatchLoop, type Logger } from "@mypay/kit";
import type { PayoutStore } from "./store/payout-store.ts";

export interface ReconcilerOptions {
  tickSeconds: number;
  /** A create request older than this without a payout is given up on. */
  graceMs: number;
  /**
   * How long after a request's lock ran out its hold may still reach the ledger. A create sends its hold
   * only while it holds the lock, and the call's deadline bounds the rest; a request is given up on only
   * after this, so its release never overtakes its hold.
   */
  holdWindowMs: number;
  batchSize: number;
  /** How long an abandoned key keeps answering REQUEST_ABANDONED. */
  keepMs: number;
  /** Expired stored errors purged per round. */
  purgeBatch: number;
}

/**
 * Releases ledger holds that never got a payout (a crash or a give-up between the hold and the insert).
 * The ledger has no list of pending holds, so the evidence is our own request record, written BEFORE
 * the hold is asked for: one still in progress after the grace period, with no payout, is marked
 * abandoned and a release is queued in the same transaction; the relay sends it (a release of a hold
 * that was never made is a no-op). A request whose lock ran out less than `holdWindowMs` ago is left
 * alone: a hold sent just before may still be on its way to the ledger. Also forgets stored create
 * errors past their expiry.
 */
export class Reconciler {
  readonly #store: PayoutStore;
  readonly #options: ReconcilerOptions;
  readonly #logger: Logger;
  readonly #afterRelease: () => void;
  readonly loop: BatchLoop;

  constructor(store: PayoutStore, options: ReconcilerOptions, logger: Logger, afterRelease: () => void) {
    this.#store = store;
    this.#options = options;
    this.#logger = logger;
    this.#afterRelease = afterRelease;
    this.loop = new BatchLoop({
      name: "reconciler",
      tickSeconds: options.tickSeconds,
      logger,
      round: () => this.round(),
    });
  }

  /** One round; resolves true when a full batch was found. Public for tests. */
  async round(): Promise<boolean> {
    const now = Date.now();
    const abandoned = await this.#store.abandonStaleRequests(
      new Date(now - this.#options.graceMs),
      new Date(now - this.#options.holdWindowMs),
      this.#options.batchSize,
      new Date(now + this.#options.keepMs),
    );
    if (abandoned.length > 0) {
      this.#logger.warn(
        { count: abandoned.length, payoutIds: abandoned.slice(0, 20) },
        "releasing holds without a payout",
      );
      this.#afterRelease();
    }
    await this.#store.purgeExpiredRequests(this.#options.purgeBatch);
    return abandoned.length === this.#options.batchSize;
  }
}
