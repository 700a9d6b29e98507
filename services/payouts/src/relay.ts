import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { BatchLoop, errorDetails, type Logger, Reason } from "@mypay/kit";
import { HoldStatus, HoldStatusSchema, type LedgerService, SettleAction } from "@mypay/proto/mypay/ledger/v1/ledger";
import type { NotifierService } from "@mypay/proto/mypay/notifier/v1/notifier";
import type { Backlog } from "./backlog.ts";
import { backoffMs } from "./domain/backoff.ts";
import type { PayoutMetrics } from "./metrics.ts";
import { PAYOUT_UPDATED } from "./payout-message.ts";
import type { OutboxRow, PayoutStore } from "./store/payout-store.ts";

export interface RelayOptions {
  tickSeconds: number;
  batchSize: number;
  leaseMs: number;
  retryBaseMs: number;
  retryCapMs: number;
}

/** The hold state each funds action leads to. */
const TARGET = { capture: HoldStatus.CAPTURED, release: HoldStatus.RELEASED } as const;

/** Attempts after which a broken invariant is retried at the backoff cap (slowly, loudly). */
const INVARIANT_ATTEMPTS = 30;

/**
 * Messages handed over in process and not yet relayed, at most. Past it new ones are left to a claim
 * once their lease runs out (only while the ledger or the notifier keeps failing, since failed
 * messages leave the hand for the table's retry schedule).
 */
const MAX_IN_HAND = 10_000;

/**
 * Delivers outbox messages at least once, a batch per round: every capture/release of the round in ONE
 * `SettleHolds` call (idempotent on the payout id) and every `payout.updated` event in ONE `Publish`
 * call (deduplicated by the notifier on the event id); the results are recorded in one round trip.
 * A round takes the messages this process's own commits handed over (`handoff`) and, at least once a
 * tick, claims what the table holds for anyone: retries that came due, and messages of a process that
 * died before relaying them.
 */
export class OutboxRelay {
  readonly #store: PayoutStore;
  readonly #ledger: Client<typeof LedgerService>;
  readonly #notifier: Client<typeof NotifierService>;
  readonly #options: RelayOptions;
  readonly #logger: Logger;
  readonly #metrics: PayoutMetrics | undefined;
  readonly #backlog: Backlog | undefined;
  readonly loop: BatchLoop;
  #inHand: OutboxRow[] = [];
  #lastClaimAt = 0;

  constructor(
    store: PayoutStore,
    ledger: Client<typeof LedgerService>,
    notifier: Client<typeof NotifierService>,
    options: RelayOptions,
    logger: Logger,
    observe: { metrics?: PayoutMetrics; backlog?: Backlog } = {},
  ) {
    this.#store = store;
    this.#ledger = ledger;
    this.#notifier = notifier;
    this.#options = options;
    this.#logger = logger;
    this.#metrics = observe.metrics;
    this.#backlog = observe.backlog;
    this.loop = new BatchLoop({
      name: "outbox-relay",
      tickSeconds: options.tickSeconds,
      logger,
      round: () => this.#round(),
    });
  }

  /** Messages this process just committed (leased to it): relayed in the next round. */
  handoff(rows: OutboxRow[]): void {
    const room = MAX_IN_HAND - this.#inHand.length;
    this.#inHand.push(...(rows.length <= room ? rows : rows.slice(0, Math.max(0, room))));
    this.loop.wake();
  }

  /** One round: take or claim a batch, move funds and publish events, record the results. */
  async #round(): Promise<boolean> {
    const { batchSize, leaseMs, tickSeconds } = this.#options;
    const batch = this.#inHand.splice(0, batchSize);
    let claimedFull = false;
    // The table only holds retries and a dead process's messages: read it when there is nothing in hand,
    // and at least once a tick while there always is.
    if (batch.length === 0 || Date.now() - this.#lastClaimAt >= tickSeconds * 1000) {
      this.#lastClaimAt = Date.now();
      const claimed = await this.#store.claimOutbox(batchSize, leaseMs);
      claimedFull = claimed.length === batchSize;
      batch.push(...claimed);
    }
    if (batch.length > 0) {
      const done: string[] = [];
      const failed: Array<{ id: string; error: string; retryAt: Date }> = [];
      const fail = (row: OutboxRow, message: string, kind: string = row.kind, slow = false) => {
        this.#metrics?.relayError(kind);
        const { retryBaseMs, retryCapMs } = this.#options;
        const attempt = slow ? Math.max(row.attempts + 1, INVARIANT_ATTEMPTS) : row.attempts + 1;
        const delay = retryBaseMs + backoffMs(attempt, retryBaseMs, retryCapMs);
        failed.push({ id: row.id, error: message, retryAt: new Date(Date.now() + delay) });
      };
      await Promise.all([
        this.#settleFunds(
          batch.filter((row) => row.kind !== "event"),
          done,
          fail,
        ),
        this.#publish(
          batch.filter((row) => row.kind === "event"),
          done,
          fail,
        ),
      ]);
      await this.#store.settleOutbox(done, failed);
    }
    if (this.#backlog) {
      this.#metrics?.outboxBacklog(await this.#backlog.refreshOutbox());
      // Also here: a process without the processor (PAYOUTS_PROCESSOR=false) still bounds its creates.
      await this.#backlog.refreshDue();
    }
    return claimedFull || this.#inHand.length > 0;
  }

  async #settleFunds(
    rows: OutboxRow[],
    done: string[],
    fail: (row: OutboxRow, message: string, kind?: string, slow?: boolean) => void,
  ): Promise<void> {
    if (rows.length === 0) return;
    let results: Awaited<ReturnType<Client<typeof LedgerService>["settleHolds"]>>["results"];
    try {
      const res = await this.#ledger.settleHolds({
        settlements: rows.map((row) => ({
          holdId: row.payoutId,
          action: row.kind === "capture" ? SettleAction.CAPTURE : SettleAction.RELEASE,
          reason: row.kind === "capture" ? "payout paid" : "payout not paid",
        })),
      });
      results = res.results;
    } catch (err) {
      const { message } = errorDetails(err);
      this.#logger.warn({ err: message, count: rows.length }, "ledger settle call failed; retrying later");
      for (const row of rows) fail(row, message);
      return;
    }
    const alreadyFinal: OutboxRow[] = [];
    for (const [i, row] of rows.entries()) {
      const result = results[i];
      const reason = result?.errorReason ?? "NO_RESULT";
      if (result && !result.errorCode) done.push(row.id);
      // A release of a hold that never got made (the reconciler's abandoned requests) has nothing to undo.
      else if (row.kind === "release" && reason === Reason.NOT_FOUND) done.push(row.id);
      else if (reason === Reason.HOLD_ALREADY_FINAL) alreadyFinal.push(row);
      else {
        this.#logger.warn({ payoutId: row.payoutId, kind: row.kind, reason }, "ledger settle item failed");
        fail(row, `${reason}: ${result?.errorMessage ?? "no result"}`);
      }
    }
    await Promise.all(alreadyFinal.map((row) => this.#checkFinal(row, done, fail)));
  }

  /** HOLD_ALREADY_FINAL in the wanted state is success; in the opposite state money went the wrong way. */
  async #checkFinal(
    row: OutboxRow,
    done: string[],
    fail: (row: OutboxRow, message: string, kind?: string, slow?: boolean) => void,
  ): Promise<void> {
    const kind = row.kind as "capture" | "release";
    try {
      const { hold } = await this.#ledger.getHold({ holdId: row.payoutId });
      if (hold?.status === TARGET[kind]) return void done.push(row.id);
      this.#logger.error(
        {
          payoutId: row.payoutId,
          wanted: kind,
          holdStatus: hold ? HoldStatusSchema.value[hold.status]?.localName : "missing",
        },
        "invariant broken: the payout's hold was settled the other way; needs an operator",
      );
      fail(row, `invariant: hold settled the other way (wanted ${kind})`, "invariant", true);
    } catch (err) {
      fail(row, errorDetails(err).message);
    }
  }

  async #publish(rows: OutboxRow[], done: string[], fail: (row: OutboxRow, message: string) => void): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.#notifier.publish({
        events: rows.map((row) => ({
          id: row.id,
          type: PAYOUT_UPDATED,
          merchantId: row.merchantId,
          subjectId: row.payoutId,
          occurredAt: timestampFromDate(new Date()),
          payloadJson: row.payload ?? "{}",
        })),
      });
      done.push(...rows.map((row) => row.id));
    } catch (err) {
      const { message } = errorDetails(err);
      this.#logger.warn({ err: message, count: rows.length }, "notifier publish failed; retrying later");
      for (const row of rows) fail(row, message);
    }
  }
}
