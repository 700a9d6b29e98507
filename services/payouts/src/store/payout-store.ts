import { randomUUID } from "node:crypto";
import { LockMode, raw } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/sql";
import type { Database, Outcome } from "@mypay/kit";
import { Code } from "@mypay/kit";
import { canTransition, fundsActionFor, type Status } from "../domain/status.ts";
import { type PayoutRow, payoutUpdatedEvent } from "../payout-message.ts";
import { OutboxMessage, Payout, PayoutRequest, PayoutTransition } from "./entities.ts";

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

/** A committed status change, reported to the metrics observer after its transaction. */
export interface CommittedTransition {
  from: Status | null;
  to: Status;
  row: PayoutRow;
}

export interface PayoutStoreOptions {
  /** Called after each commit with the transitions it made. */
  onTransitions?: (transitions: CommittedTransition[]) => void;
}

/** The idempotency record of one create request (table payout_requests). */
export interface RequestRecord {
  payoutId: string;
  merchantId: string;
  idempotencyKey: string;
  fingerprint: string;
  state: "in_progress" | "done" | "failed" | "abandoned";
  owner: string;
  lockedUntil: Date;
  errorCode: number | null;
  errorReason: string | null;
  errorMessage: string | null;
  errorField: string | null;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date;
}

/** A stored create error, replayed to later requests with the same key. */
export interface StoredError {
  code: Code;
  reason: string;
  message: string;
  field?: string | undefined;
}

/** Either this request now owns the key (`started`), or another request's record stands. */
export type BeginOutcome = { started: true } | { started: false; record: RequestRecord };

/** A payout to insert by the create path, under the request that owns its key. */
export interface NewPayoutInsert {
  row: PayoutRow;
  actor: string;
  owner: string;
}

/** `created`, or `lost`: the request no longer owns its key (the reconciler abandoned it, or a takeover). */
export type InsertOutcome = "created" | "lost";

/** A manual (merchant or admin) status change. */
export interface ManualTransition {
  id: string;
  /** Restricts to this merchant's payouts (merchant calls); undefined for admin calls. */
  merchantId?: string | undefined;
  to: Status;
  /** Only from these states (e.g. cancel from PENDING/IN_REVIEW/ON_HOLD); default: any the machine allows. */
  from?: readonly Status[];
  reason: string;
  actor: string;
  failureCode?: string;
}

export interface ListQuery {
  merchantId?: string | undefined;
  statuses: Status[];
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  limit: number;
  startingAfter?: string | undefined;
}

export interface HistoryItem {
  fromStatus: Status | null;
  toStatus: Status;
  reason: string | null;
  actor: string;
  at: Date;
}

/** Thrown by `transition` when the payout's current state does not allow the change. */
export class IllegalTransitionError extends Error {
  readonly current: Status;
  constructor(current: Status, to: Status) {
    super(`payout is ${current}; it cannot become ${to}`);
    this.current = current;
  }
}

export class PayoutNotFoundError extends Error {}

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string | number));

function asRow(entity: object): PayoutRow {
  const row = entity as PayoutRow;
  return { ...row, amount: BigInt(row.amount) };
}

function asRecord(entity: object): RequestRecord {
  const r = entity as RequestRecord;
  return {
    ...r,
    lockedUntil: date(r.lockedUntil),
    createdAt: date(r.createdAt),
    updatedAt: date(r.updatedAt),
    expiresAt: date(r.expiresAt),
  };
}

/** Storage of payouts, their audit trail and the outbox. Every write is one transaction. */
export class PayoutStore {
  readonly #db: Database;
  readonly #onTransitions: (transitions: CommittedTransition[]) => void;

  constructor(db: Database, options: PayoutStoreOptions = {}) {
    this.#db = db;
    this.#onTransitions = options.onTransitions ?? (() => {});
  }

  async get(merchantId: string, id: string): Promise<PayoutRow | undefined> {
    const found = await this.#db.em().findOne(Payout, { id, merchantId });
    return found ? asRow(found) : undefined;
  }

  /**
   * The payouts among `ids` that belong to `merchantId`, in one primary-key query (the gateway's
   * coalesced reads). Unknown ids and other merchants' payouts are simply absent.
   */
  async getMany(merchantId: string, ids: readonly string[]): Promise<PayoutRow[]> {
    if (ids.length === 0) return [];
    // The hottest read: plain SQL mapped by the ORM's compiled result mapper (its own column names and
    // date handling per engine), because building the same query with the query builder costs more
    // than running it.
    const em = this.#db.em();
    const meta = em.getMetadata(Payout);
    const rows = await em
      .getConnection()
      .execute<Record<string, unknown>[]>(
        `select * from ${meta.tableName} where merchant_id = ? and id in (${ids.map(() => "?").join(", ")})`,
        [merchantId, ...ids],
        "all",
      );
    const comparator = em.getComparator();
    return rows.map((row) => asRow(comparator.mapResult(meta, row)));
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
      await this.#tx(async (em) => {
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
      this.#onTransitions([{ from: null, to: row.status, row }]);
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
    return this.#tx(
      async (em) => {
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
        // One statement claims the whole batch under one lease. The due condition is repeated so that a
        // row another claimer took meanwhile (possible only on SQLite, which has no row locks) is left alone.
        const rows = due.map(asRow);
        const leaseId = randomUUID();
        const updated = await em.nativeUpdate(
          Payout,
          {
            id: { $in: rows.map((r) => r.id) },
            $or: [
              { status: { $in: ["PENDING", "RETRY"] }, nextAttemptAt: { $lte: now } },
              { status: "PROCESSING", leaseUntil: { $lt: now } },
            ],
          },
          { status: "PROCESSING", leaseId, leaseUntil, attempts: raw("attempts + 1"), updatedAt: now },
        );
        let mine = rows;
        if (updated !== rows.length) {
          const owned = await em.find(Payout, { leaseId }, { fields: ["id"] });
          const ids = new Set(owned.map((o) => o.id));
          mine = rows.filter((r) => ids.has(r.id));
        }
        const claimed: ClaimedPayout[] = mine.map((row) => ({
          row: { ...row, status: "PROCESSING", attempts: row.attempts + 1, updatedAt: now },
          leaseId,
          from: row.status,
        }));
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
      },
      { readCommitted: true },
    ).then((claimed) => {
      if (claimed.length > 0) this.#onTransitions(claimed.map((c) => ({ from: c.from, to: "PROCESSING", row: c.row })));
      return claimed;
    });
  }

  /**
   * Applies the processor's decisions in one transaction: each change only if the payout is still
   * under the same lease (a stale worker's result is dropped), with its transition, ledger call and event.
   * Returns how many changes were applied.
   */
  async applyChanges(changes: PayoutChange[]): Promise<number> {
    if (changes.length === 0) return 0;
    const now = new Date();
    const committed: CommittedTransition[] = [];
    const count = await this.#tx(async (em) => {
      committed.length = 0;
      // Only changes whose payout is still PROCESSING under the same lease apply (a stale worker's
      // result is dropped); the locking read keeps them so until the update below.
      const qb = em
        .createQueryBuilder(Payout)
        .select(["id", "leaseId"])
        .where({ id: { $in: changes.map((c) => c.row.id) }, status: "PROCESSING" });
      if (this.#db.kind !== "sqlite") qb.setLockMode(LockMode.PESSIMISTIC_WRITE);
      const held = new Map(
        ((await qb.execute("all", true)) as Array<{ id: string; leaseId: string | null }>).map((r) => [
          r.id,
          r.leaseId,
        ]),
      );
      const owned = changes.filter((c) => held.get(c.row.id) === c.leaseId);
      if (owned.length === 0) return 0;
      const rows = owned.map((c): PayoutRow => ({ ...c.row, ...c.set, status: c.to, updatedAt: now }));
      await this.#updateRows(em, rows);
      const applied: Array<{ row: PayoutRow; actions: Array<"capture" | "release">; notify: boolean }> = [];
      const transitions = [];
      for (const [i, change] of owned.entries()) {
        const row = rows[i]!;
        const action = fundsActionFor(change.to);
        applied.push({ row, actions: action ? [action] : [], notify: change.notify });
        committed.push({ from: "PROCESSING", to: change.to, row });
        transitions.push({
          payoutId: row.id,
          fromStatus: "PROCESSING",
          toStatus: change.to,
          reason: change.reason,
          actor: ACTOR_SYSTEM,
          at: now,
        });
      }
      await em.createQueryBuilder(PayoutTransition).insert(transitions).execute();
      await this.#queue(em, applied);
      return applied.length;
    });
    this.#onTransitions(committed);
    return count;
  }

  /** Claims up to `limit` due outbox messages under a lease, oldest first. */
  async claimOutbox(limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const now = new Date();
    // READ COMMITTED, as in claimDue: no gap locks, so claims do not deadlock with outbox inserts.
    return this.#tx(
      async (em) => {
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
      },
      { readCommitted: true },
    );
  }

  /** Records relay results in one transaction: done rows are closed, failed rows retried later. */
  async settleOutbox(done: string[], failed: Array<{ id: string; error: string; retryAt: Date }>): Promise<void> {
    if (done.length === 0 && failed.length === 0) return;
    const now = new Date();
    await this.#tx(async (em) => {
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

  /** Number of outbox messages not yet relayed, counted up to `cap` (a bounded scan). */
  async outboxBacklog(cap = 1_000_000): Promise<number> {
    const rows = await this.#sql(
      "select count(*) as n from (select 1 from outbox where done_at is null limit ?) as backlog",
      [cap],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Number of payouts the processor may claim now (PENDING/RETRY that are due), counted up to `cap`. */
  async dueCount(cap = 1_000_000): Promise<number> {
    const now = new Date();
    const rows = await this.#sql(
      "select count(*) as n from (select 1 from payouts where status in ('PENDING', 'RETRY') and next_attempt_at <= ? limit ?) as due",
      [this.#param(now), cap],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** When the oldest due payout became due, or undefined when none is due. */
  async oldestDueAt(): Promise<Date | undefined> {
    const now = new Date();
    let oldest: Date | undefined;
    for (const status of ["PENDING", "RETRY"]) {
      const [first] = await this.#db
        .em()
        .find(
          Payout,
          { status, nextAttemptAt: { $lte: now } },
          { fields: ["id", "nextAttemptAt"], orderBy: { nextAttemptAt: "asc" }, limit: 1 },
        );
      const at = first ? date(first.nextAttemptAt) : undefined;
      if (at && (!oldest || at < oldest)) oldest = at;
    }
    return oldest;
  }

  /** Payouts per status. */
  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.#sql("select status, count(*) as n from payouts group by status");
    return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
  }

  /** Reads a payout of any merchant (admin calls). */
  async getAny(id: string): Promise<PayoutRow | undefined> {
    const found = await this.#db.em().findOne(Payout, { id });
    return found ? asRow(found) : undefined;
  }

  /** A page of payouts, newest first; `hasMore` tells whether another page follows. */
  async list(q: ListQuery): Promise<{ rows: PayoutRow[]; hasMore: boolean }> {
    const em = this.#db.em();
    const where: Record<string, unknown> = {};
    if (q.merchantId) where.merchantId = q.merchantId;
    if (q.statuses.length > 0) where.status = { $in: q.statuses };
    const created: Record<string, Date> = {};
    if (q.createdAfter) created.$gte = q.createdAfter;
    if (q.createdBefore) created.$lt = q.createdBefore;
    if (Object.keys(created).length > 0) where.createdAt = created;
    if (q.startingAfter) {
      const cursor = await em.findOne(Payout, {
        id: q.startingAfter,
        ...(q.merchantId ? { merchantId: q.merchantId } : {}),
      });
      if (!cursor) throw new PayoutNotFoundError(q.startingAfter);
      where.$or = [{ createdAt: { $lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { $lt: cursor.id } }];
    }
    const found = await em.find(Payout, where, { orderBy: { createdAt: "desc", id: "desc" }, limit: q.limit + 1 });
    return { rows: found.slice(0, q.limit).map(asRow), hasMore: found.length > q.limit };
  }

  /** Every status change of one payout, oldest first. */
  async history(payoutId: string): Promise<HistoryItem[]> {
    const found = await this.#db.em().find(PayoutTransition, { payoutId }, { orderBy: { id: "asc" } });
    return found.map((t) => ({
      fromStatus: (t.fromStatus as Status | null) ?? null,
      toStatus: t.toStatus as Status,
      reason: t.reason ?? null,
      actor: t.actor,
      at: date(t.at),
    }));
  }

  /**
   * A manual status change (cancel, approve, reject, release or fail a hold), in one transaction with its
   * transition, `payout.updated` event and funds action. Throws PayoutNotFoundError or IllegalTransitionError.
   */
  async transition(t: ManualTransition): Promise<PayoutRow> {
    for (let round = 0; ; round++) {
      const current = t.merchantId ? await this.get(t.merchantId, t.id) : await this.getAny(t.id);
      if (!current) throw new PayoutNotFoundError(t.id);
      if (!canTransition(current.status, t.to) || (t.from && !t.from.includes(current.status))) {
        throw new IllegalTransitionError(current.status, t.to);
      }
      const now = new Date();
      const set: Partial<PayoutRow> = { status: t.to, updatedAt: now };
      if (t.to === "PENDING") Object.assign(set, { nextAttemptAt: now });
      if (t.to === "FAILED") {
        Object.assign(set, {
          failureCode: t.failureCode ?? t.to,
          failureMessage: t.reason.slice(0, 255),
          processedAt: now,
        });
      }
      if (t.to === "CANCELLED") Object.assign(set, { processedAt: now });
      const row: PayoutRow = { ...current, ...set };
      const applied = await this.#tx(async (em) => {
        const updated = await em.nativeUpdate(
          Payout,
          { id: current.id, status: current.status, updatedAt: current.updatedAt },
          set,
        );
        if (updated !== 1) return false;
        await em
          .createQueryBuilder(PayoutTransition)
          .insert({
            payoutId: row.id,
            fromStatus: current.status,
            toStatus: t.to,
            reason: t.reason.slice(0, 255),
            actor: t.actor,
            at: now,
          })
          .execute();
        const action = fundsActionFor(t.to);
        await this.#queue(em, [{ row, actions: action ? [action] : [], notify: true }]);
        return true;
      });
      if (applied) {
        this.#onTransitions([{ from: current.status, to: t.to, row }]);
        return row;
      }
      // The payout changed under us (the processor claimed it): decide again on its new state.
      if (round >= 5) throw new Error(`payout ${t.id} kept changing; try again`);
    }
  }

  /**
   * Starts create requests as one group: each inserts its idempotency record (the "hold requested"
   * intent) unless the key is already recorded, in which case the standing record is returned.
   * Several requests of one group with the same key: the first starts, the others see its record.
   */
  async beginRequests(records: RequestRecord[]): Promise<Array<Outcome<BeginOutcome>>> {
    const ids = [...new Set(records.map((r) => r.payoutId))];
    const byId = new Map<string, RequestRecord>();
    for (const r of records) if (!byId.has(r.payoutId)) byId.set(r.payoutId, r);
    const stored = await this.#tx(async (em) => {
      await em
        .createQueryBuilder(PayoutRequest)
        .insert([...byId.values()])
        .onConflict("payoutId")
        .ignore()
        .execute();
      return (await em
        .createQueryBuilder(PayoutRequest)
        .select("*")
        .where({ payoutId: { $in: ids } })
        .execute("all", true)) as RequestRecord[];
    });
    const found = new Map(stored.map((r) => [r.payoutId, asRecord(r)]));
    return records.map((r) => {
      const record = found.get(r.payoutId);
      if (!record) return { ok: false, error: new Error(`request ${r.payoutId} was not stored`) };
      return { ok: true, value: record.owner === r.owner ? { started: true } : { started: false, record } };
    });
  }

  /**
   * Takes over a key whose first request died (its lock expired) or whose stored error expired.
   * Returns false when another request took it first.
   */
  async takeOverRequest(record: RequestRecord, owner: string, lockedUntil: Date, expiresAt: Date): Promise<boolean> {
    const now = new Date();
    const updated = await this.#db.em().nativeUpdate(
      PayoutRequest,
      { payoutId: record.payoutId, owner: record.owner, state: record.state },
      {
        owner,
        state: "in_progress",
        lockedUntil,
        errorCode: null,
        errorReason: null,
        errorMessage: null,
        errorField: null,
        updatedAt: now,
        createdAt: now,
        expiresAt,
      },
    );
    return updated === 1;
  }

  /** Stores a create's error as the key's outcome, replayed until `expiresAt`. */
  async failRequest(payoutId: string, owner: string, error: StoredError, expiresAt: Date): Promise<void> {
    await this.#db.em().nativeUpdate(
      PayoutRequest,
      { payoutId, owner, state: "in_progress" },
      {
        state: "failed",
        errorCode: error.code,
        errorReason: error.reason.slice(0, 64),
        errorMessage: error.message.slice(0, 255),
        errorField: error.field?.slice(0, 64) ?? null,
        updatedAt: new Date(),
        expiresAt,
      },
    );
  }

  /** Lets a retry take the key over at once (the request ended with a transient error). */
  async unlockRequest(payoutId: string, owner: string): Promise<void> {
    const now = new Date();
    await this.#db
      .em()
      .nativeUpdate(PayoutRequest, { payoutId, owner, state: "in_progress" }, { lockedUntil: now, updatedAt: now });
  }

  async getRequest(payoutId: string): Promise<RequestRecord | undefined> {
    const found = await this.#db.em().findOne(PayoutRequest, { payoutId });
    return found ? asRecord(found) : undefined;
  }

  /**
   * Group commit of payout creation: inserts every payout whose request still owns its key, with its
   * first transition and `payout.updated` event, and marks the requests done, in one transaction. A
   * duplicate key fails the whole statement, so the group is then retried one payout at a time, each
   * keeping its own outcome.
   */
  async insertPayouts(items: NewPayoutInsert[]): Promise<Array<Outcome<InsertOutcome>>> {
    try {
      return await this.#insertGroup(items);
    } catch (err) {
      if (items.length === 1 || !this.#db.isUniqueViolation(err)) throw err;
      const outcomes: Array<Outcome<InsertOutcome>> = [];
      for (const item of items) {
        try {
          outcomes.push((await this.#insertGroup([item]))[0]!);
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
      return outcomes;
    }
  }

  async #insertGroup(items: NewPayoutInsert[]): Promise<Array<Outcome<InsertOutcome>>> {
    const now = new Date();
    const owned = await this.#tx(async (em) => {
      const ids = [...new Set(items.map((i) => i.row.id))].sort();
      const qb = em
        .createQueryBuilder(PayoutRequest)
        .select(["payoutId", "owner", "state"])
        .where({ payoutId: { $in: ids } });
      if (this.#db.kind !== "sqlite") qb.setLockMode(LockMode.PESSIMISTIC_WRITE);
      const records = (await qb.execute("all", true)) as Array<{ payoutId: string; owner: string; state: string }>;
      const ownerOf = new Map(records.filter((r) => r.state === "in_progress").map((r) => [r.payoutId, r.owner]));
      const mine = items.filter((i) => ownerOf.get(i.row.id) === i.owner);
      if (mine.length === 0) return mine;
      await em
        .createQueryBuilder(Payout)
        .insert(mine.map((i) => ({ ...i.row, leaseId: null, leaseUntil: null })))
        .execute();
      await em
        .createQueryBuilder(PayoutTransition)
        .insert(
          mine.map((i) => ({
            payoutId: i.row.id,
            fromStatus: null,
            toStatus: i.row.status,
            reason: "created",
            actor: i.actor,
            at: i.row.createdAt,
          })),
        )
        .execute();
      await this.#queue(
        em,
        mine.map((i) => ({ row: i.row, actions: [], notify: true })),
      );
      await em.nativeUpdate(
        PayoutRequest,
        { payoutId: { $in: mine.map((i) => i.row.id) } },
        { state: "done", updatedAt: now },
      );
      return mine;
    });
    const created = new Set(owned);
    if (owned.length > 0) this.#onTransitions(owned.map((i) => ({ from: null, to: i.row.status, row: i.row })));
    return items.map((i) => ({ ok: true, value: created.has(i) ? "created" : "lost" }));
  }

  /**
   * Reconciler: requests still in progress after the grace period whose payout never got stored had their
   * hold asked for and then crashed (or gave up). Marks up to `limit` of them abandoned and queues a ledger
   * release for each, in one transaction; the relay releases the hold (a hold that never got made is fine).
   * Returns the abandoned payout ids.
   */
  async abandonStaleRequests(olderThan: Date, limit: number, keepFor: Date): Promise<string[]> {
    const now = new Date();
    return this.#tx(async (em) => {
      const qb = em
        .createQueryBuilder(PayoutRequest)
        .select(["payoutId", "merchantId"])
        .where({ state: "in_progress", createdAt: { $lt: olderThan }, lockedUntil: { $lt: now } })
        .orderBy({ createdAt: "asc" })
        .limit(limit);
      if (this.#db.kind !== "sqlite") qb.setLockMode(LockMode.PESSIMISTIC_PARTIAL_WRITE);
      const stale = (await qb.execute("all", true)) as Array<{ payoutId: string; merchantId: string }>;
      if (stale.length === 0) return [];
      const ids = stale.map((s) => s.payoutId);
      const withPayout = new Set((await em.find(Payout, { id: { $in: ids } }, { fields: ["id"] })).map((p) => p.id));
      const orphans = stale.filter((s) => !withPayout.has(s.payoutId));
      if (withPayout.size > 0) {
        await em.nativeUpdate(PayoutRequest, { payoutId: { $in: [...withPayout] } }, { state: "done", updatedAt: now });
      }
      if (orphans.length === 0) return [];
      await em.nativeUpdate(
        PayoutRequest,
        { payoutId: { $in: orphans.map((o) => o.payoutId) } },
        {
          state: "abandoned",
          errorCode: Code.FailedPrecondition,
          errorReason: "REQUEST_ABANDONED",
          errorMessage:
            "the first request with this idempotency key never completed and its funds were released; use a new key",
          updatedAt: now,
          expiresAt: keepFor,
        },
      );
      await em
        .createQueryBuilder(OutboxMessage)
        .insert(
          orphans.map((o) => ({
            id: `release_${o.payoutId}`,
            payoutId: o.payoutId,
            merchantId: o.merchantId,
            kind: "release",
            payload: null,
            attempts: 0,
            nextAttemptAt: now,
            createdAt: now,
          })),
        )
        .execute();
      return orphans.map((o) => o.payoutId);
    });
  }

  /** Forgets stored errors past their expiry, so their keys may be used again. Returns how many. */
  async purgeExpiredRequests(limit: number): Promise<number> {
    const em = this.#db.em();
    const expired = await em.find(
      PayoutRequest,
      { state: "failed", expiresAt: { $lt: new Date() } },
      { fields: ["payoutId"], limit },
    );
    if (expired.length === 0) return 0;
    return em.nativeDelete(PayoutRequest, { payoutId: { $in: expired.map((e) => e.payoutId) }, state: "failed" });
  }

  /**
   * Writes the processor's result columns of many payouts in ONE statement (CASE per column), releasing
   * their leases. The caller holds the rows (locking read under the lease).
   */
  async #updateRows(em: EntityManager, rows: PayoutRow[]): Promise<void> {
    const columns: Array<[string, (r: PayoutRow) => unknown]> = [
      ["status", (r) => r.status],
      ["psp_reference", (r) => r.pspReference],
      ["failure_code", (r) => r.failureCode],
      ["failure_message", (r) => r.failureMessage],
      ["processed_at", (r) => (r.processedAt ? this.#param(r.processedAt) : null)],
      ["next_attempt_at", (r) => this.#param(r.nextAttemptAt)],
      ["updated_at", (r) => this.#param(r.updatedAt)],
    ];
    const params: unknown[] = [];
    const sets = columns.map(([column, value]) => {
      for (const r of rows) params.push(r.id, value(r));
      return `${column} = case id ${rows.map(() => "when ? then ?").join(" ")} end`;
    });
    params.push(...rows.map((r) => r.id));
    await em
      .getConnection()
      .execute(
        `update payouts set ${sets.join(", ")}, lease_id = null, lease_until = null where id in (${rows.map(() => "?").join(", ")})`,
        params,
        "run",
        em.getTransactionContext(),
      );
  }

  /**
   * One transaction, run again after losing a lock conflict (see `Database.transaction`). Without this a
   * processor round lost to a deadlock would leave its payouts PROCESSING until the lease ran out, and the
   * bank would be asked twice.
   */
  #tx<T>(fn: (em: EntityManager) => Promise<T>, options: { readCommitted?: boolean } = {}): Promise<T> {
    return this.#db.transaction(fn, options);
  }

  #sql(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    return this.#db.em().getConnection().execute<Record<string, unknown>[]>(sql, params, "all");
  }

  /** SQLite stores datetimes as epoch milliseconds. */
  #param(d: Date): Date | number {
    return this.#db.kind === "sqlite" ? d.getTime() : d;
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
