import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { BatchLoop, errorDetails, type Logger } from "@mypay/kit";
import type { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import type { NotifierService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { backoffMs } from "./domain/backoff.ts";
import { PAYOUT_UPDATED } from "./payout-message.ts";
import type { OutboxRow, PayoutStore } from "./store/payout-store.ts";

export interface RelayOptions {
  tickSeconds: number;
  batchSize: number;
  leaseMs: number;
  retryBaseMs: number;
  retryCapMs: number;
}

/**
 * Delivers outbox messages at least once: ledger captures/releases (idempotent on the payout id)
 * and `payout.updated` events (deduplicated by the notifier on the event id), a batch at a time.
 */
export class OutboxRelay {
  readonly #store: PayoutStore;
  readonly #ledger: Client<typeof LedgerService>;
  readonly #notifier: Client<typeof NotifierService>;
  readonly #options: RelayOptions;
  readonly #logger: Logger;
  readonly loop: BatchLoop;

  constructor(
    store: PayoutStore,
    ledger: Client<typeof LedgerService>,
    notifier: Client<typeof NotifierService>,
    options: RelayOptions,
    logger: Logger,
  ) {
    this.#store = store;
    this.#ledger = ledger;
    this.#notifier = notifier;
    this.#options = options;
    this.#logger = logger;
    this.loop = new BatchLoop({
      name: "outbox-relay",
      tickSeconds: options.tickSeconds,
      logger,
      round: () => this.#round(),
    });
  }

  /** One round: claim a batch, move funds and publish events, record the results in one transaction. */
  async #round(): Promise<boolean> {
    const batch = await this.#store.claimOutbox(this.#options.batchSize, this.#options.leaseMs);
    if (batch.length === 0) return false;
    const done: string[] = [];
    const failed: Array<{ id: string; error: string; retryAt: Date }> = [];
    const fail = (row: OutboxRow, err: unknown) => {
      const { message } = errorDetails(err);
      this.#logger.warn({ outboxId: row.id, payoutId: row.payoutId, err: message }, "outbox delivery failed");
      const { retryBaseMs, retryCapMs } = this.#options;
      const delay = retryBaseMs + backoffMs(row.attempts + 1, retryBaseMs, retryCapMs);
      failed.push({ id: row.id, error: message, retryAt: new Date(Date.now() + delay) });
    };
    const funds = batch.filter((row) => row.kind !== "event");
    await Promise.all(
      funds.map((row) =>
        this.#moveFunds(row).then(
          () => done.push(row.id),
          (err: unknown) => fail(row, err),
        ),
      ),
    );
    const events = batch.filter((row) => row.kind === "event");
    if (events.length > 0) {
      try {
        await this.#notifier.publish({
          events: events.map((row) => ({
            id: row.id,
            type: PAYOUT_UPDATED,
            merchantId: row.merchantId,
            occurredAt: timestampFromDate(new Date()),
            payloadJson: row.payload ?? "{}",
          })),
        });
        done.push(...events.map((row) => row.id));
      } catch (err) {
        for (const row of events) fail(row, err);
      }
    }
    await this.#store.settleOutbox(done, failed);
    return batch.length === this.#options.batchSize;
  }

  /** Capture and release are idempotent on the payout id, so a repeat after a crash is harmless. */
  async #moveFunds(row: OutboxRow): Promise<void> {
    if (row.kind === "capture") await this.#ledger.capture({ holdId: row.payoutId });
    else await this.#ledger.release({ holdId: row.payoutId, reason: "payout not paid" });
  }
}
