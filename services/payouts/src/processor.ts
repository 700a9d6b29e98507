import { BatchLoop, type Logger } from "@mypay/kit";
import type { Backlog } from "./backlog.ts";
import type { BankOutcome, BankRail } from "./bank/bank-rail.ts";
import { backoffMs } from "./domain/backoff.ts";
import type { PayoutMetrics } from "./metrics.ts";
import type { ClaimedPayout, PayoutChange, PayoutStore } from "./store/payout-store.ts";

export interface ProcessorOptions {
  tickSeconds: number;
  batchSize: number;
  concurrency: number;
  leaseMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryCapMs: number;
}

/**
 * Claims due payouts in batches, asks the bank about each (bounded concurrency) and commits the
 * whole batch's outcomes in one transaction. Any number of processes may run side by side.
 */
export class Processor {
  readonly #store: PayoutStore;
  readonly #rail: BankRail;
  readonly #options: ProcessorOptions;
  readonly #metrics: PayoutMetrics | undefined;
  readonly #backlog: Backlog | undefined;
  readonly loop: BatchLoop;
  /** Bank answers whose commit failed: applied first next round (their leases still guard them). */
  #unapplied: PayoutChange[] = [];

  constructor(
    store: PayoutStore,
    rail: BankRail,
    options: ProcessorOptions,
    logger: Logger,
    observe: { metrics?: PayoutMetrics; backlog?: Backlog } = {},
  ) {
    this.#metrics = observe.metrics;
    this.#backlog = observe.backlog;
    this.#store = store;
    this.#rail = rail;
    this.#options = options;
    this.loop = new BatchLoop({
      name: "processor",
      tickSeconds: options.tickSeconds,
      logger,
      round: (stopping) => this.#round(stopping),
    });
  }

  /**
   * One round: claim a batch, ask the bank about each payout, commit all outcomes at once. Once `stopping`
   * is aborted no more bank calls start: the answers in flight are committed and the payouts not yet sent
   * are handed back at once, so a shutdown waits for one bank call, not for the rest of the batch.
   */
  async #round(stopping: AbortSignal): Promise<boolean> {
    if (this.#unapplied.length > 0) {
      // Without this the bank would be asked again once the leases ran out.
      await this.#store.applyChanges(this.#unapplied);
      this.#unapplied = [];
    }
    this.loop.readingDue();
    const claimed = await this.#store.claimDue(this.#options.batchSize, this.#options.leaseMs);
    if (claimed.length > 0) {
      this.#metrics?.batch(claimed.length);
      const { results: changes, unstarted } = await mapUntilStopped(claimed, this.#options.concurrency, stopping, (c) =>
        this.#attempt(c),
      );
      this.#unapplied = changes;
      await this.#store.applyChanges(changes);
      this.#unapplied = [];
      if (unstarted.length > 0) await this.#store.handBack(unstarted);
    }
    await this.#backlog?.refreshDue();
    return claimed.length === this.#options.batchSize;
  }

  async #attempt(claim: ClaimedPayout): Promise<PayoutChange> {
    const { row, leaseId } = claim;
    let outcome: BankOutcome;
    try {
      outcome = await this.#rail.send({
        payoutId: row.id,
        amount: row.amount,
        currency: row.currency,
        bankCode: row.bankCode,
        accountNumber: row.accountNumber,
        accountTitle: row.accountTitle,
        attempt: row.attempts,
      });
    } catch (err) {
      outcome = { kind: "transient", code: "BANK_ERROR", message: err instanceof Error ? err.message : String(err) };
    }
    this.#metrics?.bankCall(outcome.kind);
    const base = { row, leaseId };
    switch (outcome.kind) {
      case "success":
        return {
          ...base,
          to: "SUCCESS",
          reason: "bank accepted",
          set: { pspReference: outcome.pspReference, processedAt: outcome.processedAt },
          notify: true,
        };
      case "failed":
        return {
          ...base,
          to: "FAILED",
          reason: outcome.code,
          set: { failureCode: outcome.code, failureMessage: outcome.message, processedAt: new Date() },
          notify: true,
        };
      case "on_hold":
        return { ...base, to: "ON_HOLD", reason: outcome.code, set: {}, notify: true };
      case "transient":
        if (row.attempts >= this.#options.maxAttempts) {
          return {
            ...base,
            to: "FAILED",
            reason: "RETRIES_EXHAUSTED",
            set: {
              failureCode: "RETRIES_EXHAUSTED",
              failureMessage: `gave up after ${row.attempts} attempts: ${outcome.message}`,
              processedAt: new Date(),
            },
            notify: true,
          };
        }
        return {
          ...base,
          to: "RETRY",
          reason: outcome.code,
          set: { nextAttemptAt: this.#later(row.attempts) },
          notify: true,
        };
      case "no_answer":
        // The bank may still act on it; ask again later without telling the merchant anything changed.
        return {
          ...base,
          to: "PENDING",
          reason: "BANK_NO_ANSWER",
          set: { nextAttemptAt: this.#later(row.attempts) },
          notify: false,
        };
    }
  }

  #later(attempt: number): Date {
    const { retryBaseMs, retryCapMs } = this.#options;
    return new Date(Date.now() + retryBaseMs + backoffMs(attempt, retryBaseMs, retryCapMs));
  }
}

/**
 * Maps in input order with at most `limit` calls in flight, starting none once `stopping` is aborted:
 * the results of the calls that started, and the items never started.
 */
async function mapUntilStopped<T, R>(
  items: T[],
  limit: number,
  stopping: AbortSignal,
  fn: (item: T) => Promise<R>,
): Promise<{ results: R[]; unstarted: T[] }> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stopping.aborted) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return { results, unstarted: items.slice(next) };
}
