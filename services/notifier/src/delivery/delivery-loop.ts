import type { Logger } from "@mypay/kit";
import cron, { type ScheduledTask } from "node-cron";
import { AttemptResult, MessageStatus, stateAfterAttempt } from "../domain/delivery.ts";
import { signingSecrets } from "../domain/signature.ts";
import type { AttemptRecord, ClaimedMessage, DeliveryStore, DisabledEndpoint } from "../store/delivery-store.ts";
import type { DeliveryMetrics } from "./delivery-metrics.ts";
import type { AttemptOutcome, Delivery } from "./webhook-sender.ts";

export interface DeliveryLoopOptions {
  store: DeliveryStore;
  sender: { send(delivery: Delivery): Promise<AttemptOutcome> };
  logger: Logger;
  metrics?: DeliveryMetrics;
  /** Waits before each attempt, in milliseconds; see retry-schedule.ts. */
  retrySchedule: readonly number[];
  /** Most messages taken by one claim. */
  batchSize: number;
  /** Deliveries in flight at once in this process. */
  concurrency: number;
  /** Deliveries in flight at once to one endpoint, so a slow receiver holds only this many slots. */
  endpointConcurrency: number;
  /** The sender's limit on one attempt; sizes the claim lease. */
  timeoutMs: number;
  /** Added to the timeout for a claim's lease, to cover recording the result. */
  leaseMarginMs: number;
  /** An endpoint whose every attempt failed for this long is disabled. */
  disableAfterMs: number;
  /** Told about endpoints the platform just disabled (410 Gone, failing too long). */
  onEndpointsDisabled?: (endpoints: DisabledEndpoint[]) => Promise<void>;
  /** The time; tests move it to cross rotation grace periods and failure windows. */
  clock?: () => Date;
}

/**
 * Delivers due messages as a pipeline: claims (and messages this process published, handed over
 * without a claim) keep a small queue of messages ready, each
 * starts as soon as a delivery slot is free (never more than `endpointConcurrency` at once per
 * endpoint), and finished attempts are recorded together, one transaction for all that finished
 * since the last one. A slow receiver therefore holds only its own slots and its short queue, and
 * never makes other endpoints' messages wait for it. All state is in the database; waking is only
 * a shortcut.
 */
export class DeliveryLoop {
  readonly #options: DeliveryLoopOptions;
  readonly #leaseMs: number;
  readonly #now: () => Date;
  /** Claimed messages per endpoint (in flight and queued) past which its messages are not claimed. */
  readonly #endpointHold: number;
  #active = 0;
  /** Claimed, not yet started, in claim order. */
  #ready: ClaimedMessage[] = [];
  readonly #inFlightTo = new Map<string, number>();
  readonly #heldFor = new Map<string, number>();
  /** Endpoints that just answered 410 Gone: nothing more is sent to them while the disable is recorded. */
  readonly #gone = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  #finished: AttemptRecord[] = [];
  #flushing: Promise<void> | undefined;
  #waiters: Array<() => void> = [];
  #running: Promise<void> | undefined;
  /** The table may hold due messages: claim when there is room (set by wakes and by claims cut short). */
  #claimAgain = false;
  /** The last claim skipped endpoints at their bound: a delivery ending there frees a claim for them. */
  #claimSkipped = false;
  #stopping = false;

  constructor(options: DeliveryLoopOptions) {
    this.#options = options;
    this.#now = options.clock ?? (() => new Date());
    this.#endpointHold = 2 * options.endpointConcurrency;
    this.#leaseMs = DeliveryLoop.leaseFor(options.timeoutMs, options.leaseMarginMs);
  }

  /**
   * How long a claim (or a handed-over message) is leased: a queued message starts within one round of
   * its endpoint's deliveries and one round of the slots', then takes at most one timeout; its lease
   * outlasts that and the recording.
   */
  static leaseFor(timeoutMs: number, leaseMarginMs: number): number {
    return 3 * timeoutMs + leaseMarginMs;
  }

  /**
   * Messages this process just published, leased to it: queued for delivery at once, without a claim.
   * While stopping they are handed back, due at once, for another process.
   */
  handoff(messages: ClaimedMessage[]): void {
    if (this.#stopping) {
      void this.#options.store.release(messages, this.#now()).catch((err: unknown) => {
        // Their lease ends in any case; they come due again then.
        this.#options.logger.warn({ err, messages: messages.length }, "handing back webhook messages failed");
      });
      return;
    }
    for (const message of messages) {
      adjust(this.#heldFor, message.endpointId, 1);
      this.#ready.push(message);
    }
    // No claim for these: the run only starts them and waits for slots.
    this.#ensureRunning();
  }

  /**
   * The room this loop has for messages about to be published and handed over (see EventStore's
   * `handoff.admit`), within the bounds claims keep: about two rounds of slots queued or in flight, and
   * `2 × endpointConcurrency` held for one endpoint. So however far behind the loop or one endpoint
   * falls, what waits in memory stays bounded and starts well within its lease; the rest waits in the
   * table for a claim. The answer counts what it admitted, so one publish cannot overfill the queue.
   */
  admission(): (endpointId: string) => boolean {
    let room = this.#stopping ? 0 : 2 * this.#options.concurrency - this.#active - this.#ready.length;
    const admitted = new Map<string, number>();
    return (endpointId) => {
      const taken = admitted.get(endpointId) ?? 0;
      if (room <= 0 || (this.#heldFor.get(endpointId) ?? 0) + taken >= this.#endpointHold) return false;
      room--;
      admitted.set(endpointId, taken + 1);
      return true;
    };
  }

  /** Claims due messages now (or once a run going has room), then delivers until nothing is left. */
  wake(): void {
    if (this.#stopping) return;
    this.#claimAgain = true;
    this.#ensureRunning();
  }

  #ensureRunning(): void {
    this.#notify();
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
  }

  /** Wakes the loop and resolves when nothing more is due and every attempt made is recorded. */
  tick(): Promise<void> {
    this.wake();
    return this.#running ?? Promise.resolve();
  }

  /** Takes no new messages and resolves once the deliveries in flight are recorded. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#notify();
    await this.#running;
    await this.#settle();
  }

  async #run(): Promise<void> {
    try {
      while (!this.#stopping) {
        this.#startReady();
        // The table is read only when something may be due there: a wake (tick, publish), a full claim,
        // or a delivery ending for an endpoint the last claim skipped. Handed-over messages need none.
        const room = this.#claimAgain ? this.#claimRoom() : 0;
        if (room > 0) {
          this.#claimAgain = false;
          await this.#claim(room);
          continue;
        }
        if (this.#active === 0 && this.#ready.length === 0) break;
        await this.#changed();
      }
    } catch (err) {
      // Claimed messages keep their lease and come due again when it ends.
      this.#options.logger.error({ err }, "webhook delivery run failed");
    }
    if (this.#ready.length > 0) await this.#handBack();
    await this.#settle();
  }

  /**
   * How many messages to claim now: enough for about two rounds of slots, counting only queued
   * messages that could start (a queue full of one slow endpoint's messages does not stop claims).
   */
  #claimRoom(): number {
    const { concurrency, batchSize } = this.#options;
    const startable = this.#ready.filter((m) => this.#canStart(m)).length;
    if (startable >= concurrency) return 0;
    return Math.min(batchSize, 2 * concurrency - this.#active - startable);
  }

  /** Claims up to `limit` messages into the queue. */
  async #claim(limit: number): Promise<void> {
    const { store } = this.#options;
    const full = [...this.#heldFor].filter(([, n]) => n >= this.#endpointHold).map(([id]) => id);
    full.push(...this.#gone);
    const claimed = await store.claimDue(limit, this.#leaseMs, this.#now(), full);
    this.#claimSkipped = full.length > 0;
    if (claimed.length === limit) this.#claimAgain = true;
    if (claimed.length === 0) return;
    const inactive: ClaimedMessage[] = [];
    const overflow: ClaimedMessage[] = [];
    for (const message of claimed) {
      if (!message.active || this.#gone.has(message.endpointId)) inactive.push(message);
      else if ((this.#heldFor.get(message.endpointId) ?? 0) >= this.#endpointHold) overflow.push(message);
      else {
        adjust(this.#heldFor, message.endpointId, 1);
        this.#ready.push(message);
      }
    }
    this.#startReady();
    if (inactive.length > 0) {
      await store.cancel(inactive, this.#now());
      this.#options.logger.info({ messages: inactive.length }, "cancelled messages of disabled or deleted endpoints");
    }
    if (overflow.length > 0) {
      this.#claimSkipped = true;
      await store.release(overflow, this.#now());
    }
  }

  #canStart(message: ClaimedMessage): boolean {
    return (this.#inFlightTo.get(message.endpointId) ?? 0) < this.#options.endpointConcurrency;
  }

  /** Starts queued messages, oldest first, while slots are free and their endpoints are below the bound. */
  #startReady(): void {
    if (this.#stopping || this.#ready.length === 0) return;
    const waiting: ClaimedMessage[] = [];
    const cancelled: ClaimedMessage[] = [];
    for (const message of this.#ready) {
      if (this.#gone.has(message.endpointId)) cancelled.push(message);
      else if (this.#active < this.#options.concurrency && this.#canStart(message)) this.#start(message);
      else waiting.push(message);
    }
    this.#ready = waiting;
    if (cancelled.length > 0) this.#cancelQueued(cancelled);
  }

  /** Cancels queued messages of an endpoint that answered 410 Gone, without sending them. */
  #cancelQueued(messages: ClaimedMessage[]): void {
    for (const message of messages) adjust(this.#heldFor, message.endpointId, -1);
    const done: Promise<void> = this.#options.store
      .cancel(messages, this.#now())
      .catch((err: unknown) => {
        // Their lease ends in any case; then the endpoint is seen disabled and they are cancelled.
        this.#options.logger.warn({ err, messages: messages.length }, "cancelling queued webhook messages failed");
      })
      .finally(() => this.#inFlight.delete(done));
    this.#inFlight.add(done);
  }

  /** On stopping or after a failure: queued messages are released unattempted, due at once. */
  async #handBack(): Promise<void> {
    const queued = this.#ready;
    this.#ready = [];
    for (const message of queued) adjust(this.#heldFor, message.endpointId, -1);
    try {
      await this.#options.store.release(queued, this.#now());
    } catch (err) {
      // Their lease ends in any case; they come due again then.
      this.#options.logger.warn({ err, messages: queued.length }, "releasing queued webhook messages failed");
    }
  }

  #start(message: ClaimedMessage): void {
    this.#active++;
    adjust(this.#inFlightTo, message.endpointId, 1);
    const delivery = this.#attempt(message).then(
      (outcome) => {
        const next = stateAfterAttempt(
          outcome.result,
          message.attempts + 1,
          this.#options.retrySchedule,
          this.#now(),
          Math.random,
          outcome.retryAfterMs,
        );
        if (outcome.statusCode === 410) this.#gone.add(message.endpointId);
        this.#finished.push({ message, ...outcome, next });
      },
      (err: unknown) => this.#options.logger.error({ err, messageId: message.id }, "webhook attempt failed to run"),
    );
    const done = delivery.finally(() => {
      this.#active--;
      adjust(this.#inFlightTo, message.endpointId, -1);
      adjust(this.#heldFor, message.endpointId, -1);
      this.#inFlight.delete(done);
      if (this.#claimSkipped) this.#claimAgain = true;
      this.#flush();
      this.#startReady();
      this.#notify();
    });
    this.#inFlight.add(done);
  }

  #attempt(message: ClaimedMessage): Promise<AttemptOutcome> {
    const { url, secret, payload } = message;
    if (url === undefined || secret === undefined || payload === undefined) {
      return Promise.resolve({
        attemptedAt: this.#now(),
        result: AttemptResult.REFUSED,
        statusCode: undefined,
        latencyMs: 0,
        error: "endpoint or event no longer exists",
        responseExcerpt: undefined,
      });
    }
    const secrets = signingSecrets(secret, message.previousSecret, message.previousSecretExpiresAt, this.#now());
    return this.#options.sender.send({ messageId: message.id, url, secrets, body: payload });
  }

  /** Records every finished attempt not yet recorded, one transaction at a time. */
  #flush(): void {
    this.#flushing ??= (async () => {
      while (this.#finished.length > 0) {
        const records = this.#finished;
        this.#finished = [];
        await this.#record(records);
      }
    })().finally(() => {
      this.#flushing = undefined;
    });
  }

  async #record(records: AttemptRecord[]): Promise<void> {
    const { store, metrics, logger, disableAfterMs, onEndpointsDisabled } = this.#options;
    let disabled: DisabledEndpoint[];
    try {
      disabled = await store.recordAttempts(records, { disableAfterMs }, this.#now());
    } catch (err) {
      // The messages keep their lease and are attempted again when it ends (at least once).
      logger.error({ err, attempts: records.length }, "recording webhook attempts failed");
      return;
    } finally {
      // Committed, claims now see the endpoint inactive; failed, its next 410 disables it.
      for (const record of records) if (record.statusCode === 410) this.#gone.delete(record.message.endpointId);
    }
    for (const record of records) {
      metrics?.observeAttempt(record);
      if (record.next.status === MessageStatus.DEAD) {
        const { id, endpointId, attempts } = record.message;
        logger.warn({ messageId: id, endpointId, attempts: attempts + 1 }, "webhook message dead-lettered");
      }
    }
    if (disabled.length === 0) return;
    for (const endpoint of disabled) {
      logger.warn(
        { endpointId: endpoint.id, merchantId: endpoint.merchantId, reason: endpoint.reason },
        "webhook endpoint disabled",
      );
    }
    await onEndpointsDisabled?.(disabled).catch((err: unknown) =>
      logger.error({ err }, "announcing disabled webhook endpoints failed"),
    );
  }

  /** Resolves once the deliveries in flight have ended and every attempt is recorded. */
  async #settle(): Promise<void> {
    while (this.#inFlight.size > 0 || this.#flushing) {
      await Promise.all([...this.#inFlight]);
      await this.#flushing;
    }
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Adds `delta` to a per-endpoint count, dropping it at zero. */
function adjust(counts: Map<string, number>, endpointId: string, delta: number): void {
  const value = (counts.get(endpointId) ?? 0) + delta;
  if (value <= 0) counts.delete(endpointId);
  else counts.set(endpointId, value);
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
