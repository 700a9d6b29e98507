import { randomUUID } from "node:crypto";
import { IsolationLevel, LockMode, raw } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/sql";
import type { Database } from "@mypay/kit";
import { fundsActionFor, type Status } from "../domain/status.ts";
import { type PayoutRow, payoutUpdatedEvent } from "../payout-message.ts";
import { OutboxMessage, Payout, PayoutTransition } from "./entities.ts";

/** A status change decided by the processor for a payout it holds the lease of. */
export interface PayoutChange {
  row: PayoutRow;
  leaseId: string;
  to: Status;
  reason: string | null;
  /** Columns to set with the status (psp reference, failure, next attempt time …). */
  set: Partial<Pick<PayoutRow, "pspReference" | "failureCode" | "failureMessage" | "processedAt" | "nextAttemptAt">>;
  /** Whether merchants are told (false for a silent return to PENDING after no bank answer). */
  notify: boolean;
}

export interface ClaimedPayout {
  row: PayoutRow;
  leaseId: string;
  /** Status before the claim (PENDING, RETRY, or PROCESSING with an expired lease). */
  from: Status;
}

export interface OutboxRow {
  id: string;
  payoutId: string;
  kind: "capture" | "release" | "event";
  merchantId: string;
  payload: string | null;
  attempts: number;
}

const ACTOR_SYSTEM = "system:processor";

function asRow(entity: object): PayoutRow {
  const row = entity as PayoutRow;
  return { ...row, amount: BigInt(row.amount) };
}

/** Storage of payouts, their audit trail and the outbox. Every write is one transaction. */
export class PayoutStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async get(merchantId: string, id: string): Promise<PayoutRow | undefined> {
    const found = await this.#db.em().findOne(Payout, { id, merchantId });
    return found ? asRow(found) : undefined;
  }

  async findByKey(merchantId: string, idempotencyKey: string): Promise<PayoutRow | undefined> {
    const found = await this.#db.em().findOne(Payout, { merchantId, idempotencyKey });
    return found ? asRow(found) : undefined;
  }

  /**
   * Inserts a new payout with its first transition and `payout.updated` event.
   * Returns false when a payout with the same id already exists (a concurrent create won).
   */
  async insert(row: PayoutRow, actor: string): Promise<boolean> {
    try {
      await this.#db.em().transactional(async (em) => {
        await em
          .createQueryBuilder(Payout)
          .insert({ ...row, leaseId: null, leaseUntil: null })
          .execute();
        await em
          .createQueryBuilder(PayoutTransition)
          .insert({
            payoutId: row.id,
            fromStatus: null,
            toStatus: row.status,
            reason: "created",
            actor,
            at: row.createdAt,
          })
          .execute();
        await this.#queue(em, [{ row, actions: [], notify: true }]);
      });
      return true;
    } catch (err) {
      if (this.#db.isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /**
   * Claims up to `limit` due payouts (PENDING/RETRY whose time has come, or PROCESSING with an
   * expired lease) and marks them PROCESSING under a fresh lease. Replicas never claim the same row:
   * MySQL/MariaDB skip rows another claim has locked; SQLite has a single writer.
   */
  async claimDue(limit: number, leaseMs: number): Promise<ClaimedPayout[]> {
    const now = new Date();
    const leaseUntil = new Date(now.getTime() + leaseMs);
    // READ COMMITTED: the locking reads take no gap locks, so concurrent claimers (and creates
    // inserting new PENDING rows) do not deadlock on the index ranges they scan and update.
    const isolation = this.#db.kind === "sqlite" ? {} : { isolationLevel: IsolationLevel.READ_COMMITTED };
    return this.#db.em().transactional(async (em) => {
      // One query per state, each an ordered walk of the (status, next_attempt_at) index that stops at
      // `limit`, so InnoDB locks only the rows it returns. A single OR across the states makes the
      // server sort every due row first and lock them all: concurrent claimers then skip everything.
      const lockDue = async (where: { status: Status } & Record<string, unknown>) => {
        const qb = em
          .createQueryBuilder(Payout)
          .select("*")
          .where(where)
          .orderBy({ nextAttemptAt: "asc" })
          .limit(limit);
        if (this.#db.kind !== "sqlite") qb.setLockMode(LockMode.PESSIMISTIC_PARTIAL_WRITE);
        return (await qb.execute("all", true)) as Array<{ nextAttemptAt: Date | string | number }>;
      };
      const due = [
        ...(await lockDue({ status: "PENDING", nextAttemptAt: { $lte: now } })),
        ...(await lockDue({ status: "RETRY", nextAttemptAt: { $lte: now } })),
        ...(await lockDue({ status: "PROCESSING", leaseUntil: { $lt: now } })),
      ]
        .sort((a, b) => new Date(a.nextAttemptAt).getTime() - new Date(b.nextAttemptAt).getTime())
        .slice(0, limit);
      if (due.length === 0) return [];
      const claimed: ClaimedPayout[] = [];
      for (const entity of due) {
        const row = asRow(entity);
        const leaseId = randomUUID();
        const from = row.status;
        const updated = await em.nativeUpdate(
          Payout,
          { id: row.id, status: from, updatedAt: row.updatedAt },
          { status: "PROCESSING", leaseId, leaseUntil, attempts: row.attempts + 1, updatedAt: now },
        );
        if (updated !== 1) continue;
        claimed.push({
          row: { ...row, status: "PROCESSING", attempts: row.attempts + 1, updatedAt: now },
          leaseId,
          from,
        });
      }
      if (claimed.length > 0) {
        await em
          .createQueryBuilder(PayoutTransition)
          .insert(
            claimed.map((c) => ({
              payoutId: c.row.id,
              fromStatus: c.from,
              toStatus: "PROCESSING",
              reason: `attempt ${c.row.attempts}`,
              actor: ACTOR_SYSTEM,
              at: now,
            })),
          )
          .execute();
      }
      return claimed;
    }, isolation);
  }

  /**
   * Applies the processor's decisions in one transaction: each change only if the payout is still
   * under the same lease (a stale worker's result is dropped), with its transition, ledger call and event.
   * Returns how many changes were applied.
   */
  async applyChanges(changes: PayoutChange[]): Promise<number> {
    if (changes.length === 0) return 0;
    const now = new Date();
    return this.#db.em().transactional(async (em) => {
      const applied: Array<{ row: PayoutRow; actions: Array<"capture" | "release">; notify: boolean }> = [];
      const transitions = [];
      for (const change of changes) {
        const updated = await em.nativeUpdate(
          Payout,
          { id: change.row.id, status: "PROCESSING", leaseId: change.leaseId },
          { ...change.set, status: change.to, leaseId: null, leaseUntil: null, updatedAt: now },
        );
        if (updated !== 1) continue;
        const row: PayoutRow = { ...change.row, ...change.set, status: change.to, updatedAt: now };
        const action = fundsActionFor(change.to);
        applied.push({ row, actions: action ? [action] : [], notify: change.notify });
        transitions.push({
          payoutId: row.id,
          fromStatus: "PROCESSING",
          toStatus: change.to,
          reason: change.reason,
          actor: ACTOR_SYSTEM,
          at: now,
        });
      }
      if (transitions.length > 0) await em.createQueryBuilder(PayoutTransition).insert(transitions).execute();
      await this.#queue(em, applied);
      return applied.length;
    });
  }

  /** Claims up to `limit` due outbox messages under a lease, oldest first. */
  async claimOutbox(limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const now = new Date();
    return this.#db.em().transactional(async (em) => {
      const qb = em
        .createQueryBuilder(OutboxMessage)
        .select(["id", "payoutId", "kind", "merchantId", "payload", "attempts"])
        .where({
          doneAt: null,
          nextAttemptAt: { $lte: now },
          $or: [{ leaseUntil: null }, { leaseUntil: { $lt: now } }],
        })
        .orderBy({ nextAttemptAt: "asc" })
        .limit(limit);
      if (this.#db.kind !== "sqlite") qb.setLockMode(LockMode.PESSIMISTIC_PARTIAL_WRITE);
      const rows = (await qb.execute("all", true)) as OutboxRow[];
      if (rows.length === 0) return [];
      await em.nativeUpdate(
        OutboxMessage,
        { id: { $in: rows.map((r) => r.id) } },
        { leaseUntil: new Date(now.getTime() + leaseMs) },
      );
      return rows;
    });
  }

  /** Records relay results in one transaction: done rows are closed, failed rows retried later. */
  async settleOutbox(done: string[], failed: Array<{ id: string; error: string; retryAt: Date }>): Promise<void> {
    if (done.length === 0 && failed.length === 0) return;
    const now = new Date();
    await this.#db.em().transactional(async (em) => {
      if (done.length > 0) {
        await em.nativeUpdate(OutboxMessage, { id: { $in: done } }, { doneAt: now, leaseUntil: null });
      }
      for (const f of failed) {
        await em.nativeUpdate(
          OutboxMessage,
          { id: f.id },
          {
            lastError: f.error.slice(0, 255),
            nextAttemptAt: f.retryAt,
            leaseUntil: null,
            attempts: raw("attempts + 1"),
          },
        );
      }
    });
  }

  /** Number of outbox messages not yet relayed. */
  outboxBacklog(): Promise<number> {
    return this.#db.em().count(OutboxMessage, { doneAt: null });
  }

  async #queue(
    em: EntityManager,
    items: Array<{ row: PayoutRow; actions: Array<"capture" | "release">; notify: boolean }>,
  ): Promise<void> {
    const now = new Date();
    const rows = [];
    for (const { row, actions, notify } of items) {
      const base = { payoutId: row.id, merchantId: row.merchantId, attempts: 0, nextAttemptAt: now, createdAt: now };
      for (const action of actions) rows.push({ ...base, id: `${action}_${row.id}`, kind: action, payload: null });
      if (notify) {
        const event = payoutUpdatedEvent(row);
        rows.push({ ...base, id: event.id, kind: "event", payload: event.body });
      }
    }
    if (rows.length > 0) await em.createQueryBuilder(OutboxMessage).insert(rows).execute();
  }
}
