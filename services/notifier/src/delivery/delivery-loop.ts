import type { Logger } from "@mypay/kit";
import cron, { type ScheduledTask } from "node-cron";
import { AttemptResult, MessageStatus, stateAfterAttempt } from "../domain/delivery.ts";
import type { AttemptRecord, ClaimedMessage, DeliveryStore } from "../store/delivery-store.ts";
import type { DeliveryMetrics } from "./delivery-metrics.ts";
import type { AttemptOutcome, Delivery } from "./webhook-sender.ts";

export interface DeliveryLoopOptions {
  store: DeliveryStore;
  sender: { send(delivery: Delivery): Promise<AttemptOutcome> };
  logger: Logger;
  metrics?: DeliveryMetrics;
  /** Waits before each attempt, in milliseconds; see retry-schedule.ts. */
  retrySchedule: readonly number[];
  batchSize: number;
  /** Deliveries in flight at once. */
  concurrency: number;
  /** The sender's limit on one attempt; sizes the claim lease. */
  timeoutMs: number;
}

/** Added to the longest a batch can take, to cover the claim and record transactions. */
const LEASE_MARGIN_MS = 60_000;

/**
 * Claims due messages in batches, delivers each batch concurrently and commits its outcomes in
 * one transaction, until nothing is due. Runs are single-flight: a wake-up during a run makes
 * the run look again when it is done. All state is in the database; waking is only a shortcut.
 */
export class DeliveryLoop {
  readonly #options: DeliveryLoopOptions;
  readonly #leaseMs: number;
  #running: Promise<void> | undefined;
  #again = false;
  #stopping = false;

  constructor(options: DeliveryLoopOptions) {
    this.#options = options;
    // A lease outlasts the slowest batch, so a live claimer never loses its messages to another.
    this.#leaseMs = Math.ceil(options.batchSize / options.concurrency) * options.timeoutMs + LEASE_MARGIN_MS;
  }

  /** Starts a run now unless one is going; then that run looks again before it ends. */
  wake(): void {
    if (this.#stopping) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  /** Wakes the loop and resolves when the current run has finished. */
  tick(): Promise<void> {
    this.wake();
    return this.#running ?? Promise.resolve();
  }

  /** Takes no new batches and resolves once the batch in flight is recorded. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#running;
  }

  /** Claims, delivers and records one batch; returns how many messages it held. */
  async runBatch(): Promise<number> {
    const { store, retrySchedule, metrics, logger } = this.#options;
    const claim = await store.claimDue(this.#options.batchSize, this.#leaseMs);
    if (claim.messages.length === 0) return 0;
    const outcomes = await mapBounded(claim.messages, this.#options.concurrency, (m) => this.#attempt(m));
    const now = new Date();
    const records: AttemptRecord[] = claim.messages.map((message, i) => {
      const outcome = outcomes[i]!;
      return { message, ...outcome, next: stateAfterAttempt(outcome.result, message.attempts + 1, retrySchedule, now) };
    });
    await store.recordAttempts(claim.token, records, now);
    for (const record of records) {
      metrics?.observeAttempt(record);
      if (record.next.status === MessageStatus.DEAD) {
        logger.warn(
          {
            messageId: record.message.id,
            endpointId: record.message.endpointId,
            attempts: record.message.attempts + 1,
          },
          "webhook message dead-lettered",
        );
      }
    }
    return claim.messages.length;
  }

  async #drain(): Promise<void> {
    try {
      do {
        this.#again = false;
        while (!this.#stopping) {
          if ((await this.runBatch()) < this.#options.batchSize) break;
        }
      } while (this.#again && !this.#stopping);
    } catch (err) {
      // Claimed messages keep their lease and come due again when it ends.
      this.#options.logger.error({ err }, "webhook delivery run failed");
    }
  }

  #attempt(message: ClaimedMessage): Promise<AttemptOutcome> {
    const { url, secret, payload } = message;
    if (url === undefined || secret === undefined || payload === undefined) {
      return Promise.resolve({
        attemptedAt: new Date(),
        result: AttemptResult.REFUSED,
        statusCode: undefined,
        latencyMs: 0,
        error: "endpoint or event no longer exists",
        responseExcerpt: undefined,
      });
    }
    return this.#options.sender.send({ messageId: message.id, url, secret, body: payload });
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the items' order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Ticks the loop every `seconds` (1–59) with node-cron; a tick while a run is going waits for it
 * rather than overlapping. node-cron's own notices (overlaps, missed ticks) go to debug.
 */
export function scheduleDeliveries(loop: DeliveryLoop, seconds: number, logger: Logger): ScheduledTask {
  return cron.schedule(`*/${seconds} * * * * *`, () => loop.tick(), {
    name: "webhook-delivery",
    noOverlap: true,
    logger: {
      info: (message) => logger.debug({ cron: message }, "cron"),
      warn: (message) => logger.debug({ cron: message }, "cron"),
      debug: (message) => logger.debug({ cron: String(message) }, "cron"),
      error: (message, err) => logger.error({ err: err ?? message }, "cron task failed"),
    },
  });
}
