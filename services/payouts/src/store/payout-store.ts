import { randomUUID } from "node:crypto";
import {
  Code,
  type Database,
  type Outcome,
  placeholders,
  type Row,
  RowCountMismatch,
  type SqlTransaction,
  type SqlValue,
  type Statement,
  sqlDate,
  tuples,
} from "@mypay/kit";
import { keyDigest } from "../domain/key-digest.ts";
import { canTransition, fundsActionFor, OPEN_STATUSES, type Status } from "../domain/status.ts";
import { type PayoutRow, payoutUpdatedEvent } from "../payout-message.ts";
import { Payout, PayoutTransition } from "./entities.ts";

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
  /**
   * In-process relay of new outbox messages: messages the hot paths write are leased to this process for
   * `leaseMs` and handed to `deliver` after their commit, so the relay never has to claim them from the
   * table. Should this process die first, any relay claims them once the lease runs out. Without it,
   * new messages are due at once for whichever relay claims them.
   */
  handoff?: { leaseMs: number; deliver: (rows: OutboxRow[]) => void };
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

/** Every column of `payouts` that a new row sets, in the order `payoutValues` gives them. */
const PAYOUT_COLUMNS =
  "id, merchant_id, idempotency_key, fingerprint, merchant_reference, currency, amount, status, dest_type, " +
  "bank_code, account_number, account_title, psp_reference, failure_code, failure_message, attempts, " +
  "next_attempt_at, created_at, updated_at, processed_at";
const PAYOUT_WIDTH = 20;

function payoutValues(row: PayoutRow): SqlValue[] {
  return [
    row.id,
    row.merchantId,
    row.idempotencyKey,
    row.fingerprint,
    row.merchantReference,
    row.currency,
    row.amount,
    row.status,
    row.destType,
    row.bankCode,
    row.accountNumber,
    row.accountTitle,
    row.pspReference,
    row.failureCode,
    row.failureMessage,
    row.attempts,
    row.nextAttemptAt,
    row.createdAt,
    row.updatedAt,
    row.processedAt,
  ];
}

/** A `payouts` row as plain SQL reads it. */
function payoutFromRow(r: Row): PayoutRow {
  return {
    id: r.id as string,
    merchantId: r.merchant_id as string,
    idempotencyKey: r.idempotency_key as string,
    fingerprint: r.fingerprint as string,
    merchantReference: r.merchant_reference as string,
    currency: r.currency as string,
    amount: BigInt(r.amount as string),
    status: r.status as Status,
    destType: r.dest_type as string,
    bankCode: r.bank_code as string,
    accountNumber: r.account_number as string,
    accountTitle: r.account_title as string,
    pspReference: (r.psp_reference as string | null) ?? null,
    failureCode: (r.failure_code as string | null) ?? null,
    failureMessage: (r.failure_message as string | null) ?? null,
    attempts: Number(r.attempts),
    nextAttemptAt: sqlDate(r.next_attempt_at),
    createdAt: sqlDate(r.created_at),
    updatedAt: sqlDate(r.updated_at),
    processedAt: r.processed_at == null ? null : sqlDate(r.processed_at),
  };
}

/** An entity read by the ORM (cold paths), as a payout row. */
function asRow(entity: object): PayoutRow {
  const row = entity as PayoutRow;
  return { ...row, amount: BigInt(row.amount) };
}

const REQUEST_COLUMNS =
  "payout_id, merchant_id, idempotency_key, key_digest, fingerprint, state, owner, locked_until, error_code, " +
  "error_reason, error_message, error_field, created_at, updated_at, expires_at";
const REQUEST_WIDTH = 15;

function requestValues(r: RequestRecord, digest: string): SqlValue[] {
  return [
    r.payoutId,
    r.merchantId,
    r.idempotencyKey,
    digest,
    r.fingerprint,
    r.state,
    r.owner,
    r.lockedUntil,
    r.errorCode,
    r.errorReason,
    r.errorMessage,
    r.errorField,
    r.createdAt,
    r.updatedAt,
    r.expiresAt,
  ];
}

function requestFromRow(r: Row): RequestRecord {
  return {
    payoutId: r.payout_id as string,
    merchantId: r.merchant_id as string,
    idempotencyKey: r.idempotency_key as string,
    fingerprint: r.fingerprint as string,
    state: r.state as RequestRecord["state"],
    owner: r.owner as string,
    lockedUntil: sqlDate(r.locked_until),
    errorCode: r.error_code == null ? null : Number(r.error_code),
    errorReason: (r.error_reason as string | null) ?? null,
    errorMessage: (r.error_message as string | null) ?? null,
    errorField: (r.error_field as string | null) ?? null,
    createdAt: sqlDate(r.created_at),
    updatedAt: sqlDate(r.updated_at),
    expiresAt: sqlDate(r.expires_at),
  };
}

interface TransitionInsert {
  payoutId: string;
  from: Status | null;
  to: Status;
  reason: string | null;
  actor: string;
  at: Date;
}

function insertTransitions(items: TransitionInsert[]): Statement {
  return [
    `insert into payout_transitions (payout_id, from_status, to_status, reason, actor, at) values ${tuples(items.length, 6)}`,
    items.flatMap((t) => [t.payoutId, t.from, t.to, t.reason, t.actor, t.at]),
  ];
}

/** What a committed status change puts in the outbox: its funds actions and, when merchants are told, an event. */
interface Queued {
  row: PayoutRow;
  actions: Array<"capture" | "release">;
  notify: boolean;
}

/** Storage of payouts, their audit trail and the outbox. Every write is one transaction. */
export class PayoutStore {
  readonly #db: Database;
  readonly #onTransitions: (transitions: CommittedTransition[]) => void;
  readonly #handoff: PayoutStoreOptions["handoff"];

  constructor(db: Database, options: PayoutStoreOptions = {}) {
    this.#db = db;
    this.#onTransitions = options.onTransitions ?? (() => {});
    this.#handoff = options.handoff;
  }

  async get(merchantId: string, id: string): Promise<PayoutRow | undefined> {
    const [row] = await this.#db.sql.query("select * from payouts where id = ? and merchant_id = ?", [id, merchantId]);
    return row ? payoutFromRow(row) : undefined;
  }

  /**
   * The payouts among `ids` that belong to `merchantId`, in one primary-key query (the gateway's
   * coalesced reads). Unknown ids and other merchants' payouts are simply absent.
   */
  async getMany(merchantId: string, ids: readonly string[]): Promise<PayoutRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.#db.sql.query(
      `select * from payouts where merchant_id = ? and id in (${placeholders(ids.length)})`,
      [merchantId, ...ids],
    );
    return rows.map(payoutFromRow);
  }

  /** Reads a payout of any merchant (admin calls). */
  async getAny(id: string): Promise<PayoutRow | undefined> {
    const [row] = await this.#db.sql.query("select * from payouts where id = ?", [id]);
    return row ? payoutFromRow(row) : undefined;
  }

  /**
   * Inserts a new payout with its first transition and `payout.updated` event.
   * Returns false when a payout with the same id already exists (a concurrent create won).
   */
  async insert(row: PayoutRow, actor: string): Promise<boolean> {
    try {
      const queued = await this.#db.sql.transaction((tx) => {
        const outbox = this.#outbox([{ row, actions: [], notify: true }]);
        return tx
          .commitWith([
            [`insert into payouts (${PAYOUT_COLUMNS}) values ${tuples(1, PAYOUT_WIDTH)}`, payoutValues(row)],
            insertTransitions([
              { payoutId: row.id, from: null, to: row.status, reason: "created", actor, at: row.createdAt },
            ]),
            ...outbox.statements,
          ])
          .then(() => outbox.rows);
      });
      this.#committed([{ from: null, to: row.status, row }], queued);
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
    const lock = this.#db.kind === "sqlite" ? "" : " for update skip locked";
    // One query per state, each an ordered walk of the (status, next_attempt_at) index that stops at
    // `limit`, so InnoDB locks only the rows it returns. A single OR across the states makes the server
    // sort every due row first and lock them all: concurrent claimers then skip everything.
    const due = (condition: string): Statement => [
      `select * from payouts where ${condition} order by next_attempt_at limit ${limit}${lock}`,
      [now],
    ];
    const claimed = await this.#db.sql.transaction(async (tx) => {
      const found = (await tx.many([
        due("status = 'PENDING' and next_attempt_at <= ?"),
        due("status = 'RETRY' and next_attempt_at <= ?"),
        due("status = 'PROCESSING' and lease_until < ?"),
      ])) as Row[][];
      const rows = found
        .flat()
        .map(payoutFromRow)
        .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime())
        .slice(0, limit);
      if (rows.length === 0) return [];
      const leaseId = randomUUID();
      const ids = rows.map((r) => r.id);
      const claims: ClaimedPayout[] = rows.map((row) => ({
        row: { ...row, status: "PROCESSING", attempts: row.attempts + 1, updatedAt: now },
        leaseId,
        from: row.status,
      }));
      // The due condition is repeated: a row claimed meanwhile stays untouched. Every returned row is
      // locked on a server and SQLite has one writer, so anything less than all of them is a broken
      // invariant, caught before the transitions and the COMMIT (which ride in the same round trip).
      try {
        await tx.commitWhen(
          [
            `update payouts set status = 'PROCESSING', lease_id = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
              where id in (${placeholders(ids.length)})
                and ((status in ('PENDING', 'RETRY') and next_attempt_at <= ?) or (status = 'PROCESSING' and lease_until < ?))`,
            [leaseId, leaseUntil, now, ...ids, now, now],
          ],
          rows.length,
          [
            insertTransitions(
              claims.map((c) => ({
                payoutId: c.row.id,
                from: c.from,
                to: "PROCESSING",
                reason: `attempt ${c.row.attempts}`,
                actor: ACTOR_SYSTEM,
                at: now,
              })),
            ),
          ],
        );
      } catch (err) {
        if (err instanceof RowCountMismatch) throw new Error(`claimed ${err.matched} of ${rows.length} locked payouts`);
        throw err;
      }
      return claims;
    });
    if (claimed.length > 0) this.#onTransitions(claimed.map((c) => ({ from: c.from, to: "PROCESSING", row: c.row })));
    return claimed;
  }

  /**
   * Applies the processor's decisions in one transaction: each change only if the payout is still
   * PROCESSING under the same lease (a stale worker's result is dropped), with its transition, ledger call
   * and event. One round trip as a rule: the payouts' update, conditional on the leases, guards the rest.
   * When a lease was lost, the changes still owned are found under lock and applied in a second
   * transaction. Returns how many changes were applied.
   */
  async applyChanges(changes: PayoutChange[]): Promise<number> {
    if (changes.length === 0) return 0;
    const now = new Date();
    let result: { committed: CommittedTransition[]; queued: OutboxRow[] };
    try {
      result = await this.#db.sql.transaction((tx) => this.#applyOwned(tx, changes, now));
    } catch (err) {
      if (!(err instanceof RowCountMismatch)) throw err;
      const lock = this.#db.kind === "sqlite" ? "" : " for update";
      result = await this.#db.sql.transaction(async (tx) => {
        const held = await tx.query<{ id: string; lease_id: string | null }>(
          `select id, lease_id from payouts where id in (${placeholders(changes.length)}) and status = 'PROCESSING'${lock}`,
          changes.map((c) => c.row.id),
        );
        const leaseOf = new Map(held.map((r) => [r.id, r.lease_id]));
        const owned = changes.filter((c) => leaseOf.get(c.row.id) === c.leaseId);
        return owned.length > 0 ? this.#applyOwned(tx, owned, now) : { committed: [], queued: [] };
      });
    }
    this.#committed(result.committed, result.queued);
    return result.committed.length;
  }

  /** Commits changes whose payouts are all PROCESSING under their leases, or rejects with `RowCountMismatch`. */
  async #applyOwned(
    tx: SqlTransaction,
    owned: PayoutChange[],
    now: Date,
  ): Promise<{ committed: CommittedTransition[]; queued: OutboxRow[] }> {
    const rows = owned.map((c): PayoutRow => ({ ...c.row, ...c.set, status: c.to, updatedAt: now }));
    const queue: Queued[] = [];
    const committed: CommittedTransition[] = [];
    const transitions: TransitionInsert[] = [];
    for (const [i, change] of owned.entries()) {
      const row = rows[i]!;
      const action = fundsActionFor(change.to);
      queue.push({ row, actions: action ? [action] : [], notify: change.notify });
      committed.push({ from: "PROCESSING", to: change.to, row });
      transitions.push({
        payoutId: row.id,
        from: "PROCESSING",
        to: change.to,
        reason: change.reason,
        actor: ACTOR_SYSTEM,
        at: now,
      });
    }
    const outbox = this.#outbox(queue);
    const leased = this.#updateLeasedRows(
      rows,
      owned.map((c) => c.leaseId),
    );
    await tx.commitWhen(leased, rows.length, [insertTransitions(transitions), ...outbox.statements]);
    return { committed, queued: outbox.rows };
  }

  /**
   * Hands back claimed payouts whose bank call never started (a processor stopping mid-batch): their lease
   * ends now, so any processor claims them again at once, and the attempt their claim counted is taken
   * back. Rows no longer under the claim's lease are left alone.
   */
  async handBack(claims: readonly ClaimedPayout[]): Promise<void> {
    const now = new Date();
    const byLease = new Map<string, string[]>();
    for (const { leaseId, row } of claims) byLease.set(leaseId, [...(byLease.get(leaseId) ?? []), row.id]);
    for (const [leaseId, ids] of byLease) {
      await this.#db.sql.run(
        `update payouts set lease_until = ?, attempts = attempts - 1, updated_at = ?
          where status = 'PROCESSING' and lease_id = ? and id in (${placeholders(ids.length)})`,
        [now, now, leaseId, ...ids],
      );
    }
  }

  /**
   * Claims up to `limit` due outbox messages under a lease, oldest first: messages no process has in hand
   * (failed ones past their retry time, or those whose process died before relaying them).
   */
  async claimOutbox(limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const now = new Date();
    const lock = this.#db.kind === "sqlite" ? "" : " for update skip locked";
    return this.#db.sql.transaction(async (tx) => {
      const rows = await tx.query<Row>(
        `select id, payout_id, kind, merchant_id, payload, attempts from outbox
          where next_attempt_at <= ? order by next_attempt_at limit ${limit}${lock}`,
        [now],
      );
      if (rows.length === 0) return [];
      await tx.commitWith([
        [
          `update outbox set next_attempt_at = ? where id in (${placeholders(rows.length)})`,
          [new Date(now.getTime() + leaseMs), ...rows.map((r) => r.id as string)],
        ],
      ]);
      return rows.map(
        (r): OutboxRow => ({
          id: r.id as string,
          payoutId: r.payout_id as string,
          kind: r.kind as OutboxRow["kind"],
          merchantId: r.merchant_id as string,
          payload: (r.payload as string | null) ?? null,
          attempts: Number(r.attempts),
        }),
      );
    });
  }

  /** Records relay results in one round trip: relayed messages leave the outbox, failed ones come back at `retryAt`. */
  async settleOutbox(done: string[], failed: Array<{ id: string; error: string; retryAt: Date }>): Promise<void> {
    const statements: Statement[] = [];
    if (done.length > 0) statements.push([`delete from outbox where id in (${placeholders(done.length)})`, done]);
    for (const f of failed) {
      statements.push([
        "update outbox set last_error = ?, next_attempt_at = ?, attempts = attempts + 1 where id = ?",
        [f.error.slice(0, 255), f.retryAt, f.id],
      ]);
    }
    if (statements.length > 0) await this.#db.sql.many(statements);
  }

  /** Number of outbox messages not yet relayed, counted up to `cap` (a bounded scan). */
  async outboxBacklog(cap = 1_000_000): Promise<number> {
    const [row] = await this.#db.sql.query<{ n: unknown }>(
      "select count(*) as n from (select 1 from outbox limit ?) as backlog",
      [cap],
    );
    return Number(row?.n ?? 0);
  }

  /** Number of payouts the processor may claim now (PENDING/RETRY that are due), counted up to `cap`. */
  async dueCount(cap = 1_000_000): Promise<number> {
    const [row] = await this.#db.sql.query<{ n: unknown }>(
      "select count(*) as n from (select 1 from payouts where status in ('PENDING', 'RETRY') and next_attempt_at <= ? limit ?) as due",
      [new Date(), cap],
    );
    return Number(row?.n ?? 0);
  }

  /** When the oldest due payout became due, or undefined when none is due. */
  async oldestDueAt(): Promise<Date | undefined> {
    const now = new Date();
    const oldest = (status: string): Statement => [
      "select next_attempt_at from payouts where status = ? and next_attempt_at <= ? order by next_attempt_at limit 1",
      [status, now],
    ];
    const found = (await this.#db.sql.many([oldest("PENDING"), oldest("RETRY")])) as Row[][];
    const times = found.flat().map((r) => sqlDate(r.next_attempt_at).getTime());
    return times.length > 0 ? new Date(Math.min(...times)) : undefined;
  }

  /**
   * Payouts in each open status (0 for none), counted on the (status, next_attempt_at) index: open payouts
   * are bounded by the backlog, final ones grow without end and are not counted here.
   */
  async countOpen(): Promise<Record<string, number>> {
    const rows = await this.#db.sql.query<{ status: string; n: unknown }>(
      `select status, count(*) as n from payouts where status in (${placeholders(OPEN_STATUSES.length)}) group by status`,
      OPEN_STATUSES,
    );
    const counts: Record<string, number> = Object.fromEntries(OPEN_STATUSES.map((s) => [s, 0]));
    for (const row of rows) counts[row.status] = Number(row.n);
    return counts;
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
      at: sqlDate(t.at),
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
      const row: PayoutRow = { ...current, status: t.to, updatedAt: now };
      if (t.to === "PENDING") row.nextAttemptAt = now;
      if (t.to === "FAILED") {
        row.failureCode = t.failureCode ?? t.to;
        row.failureMessage = t.reason.slice(0, 255);
        row.processedAt = now;
      }
      if (t.to === "CANCELLED") row.processedAt = now;
      const action = fundsActionFor(t.to);
      const queued = await this.#db.sql.transaction(async (tx) => {
        const updated = await tx.run(
          `update payouts set status = ?, next_attempt_at = ?, failure_code = ?, failure_message = ?, processed_at = ?,
                  updated_at = ? where id = ? and status = ? and updated_at = ?`,
          [
            row.status,
            row.nextAttemptAt,
            row.failureCode,
            row.failureMessage,
            row.processedAt,
            now,
            row.id,
            current.status,
            current.updatedAt,
          ],
        );
        if (updated !== 1) return undefined;
        const outbox = this.#outbox([{ row, actions: action ? [action] : [], notify: true }]);
        await tx.commitWith([
          insertTransitions([
            {
              payoutId: row.id,
              from: current.status,
              to: t.to,
              reason: t.reason.slice(0, 255),
              actor: t.actor,
              at: now,
            },
          ]),
          ...outbox.statements,
        ]);
        return outbox.rows;
      });
      if (queued) {
        this.#committed([{ from: current.status, to: t.to, row }], queued);
        return row;
      }
      // The payout changed under us (the processor claimed it): decide again on its new state.
      if (round >= 5) throw new Error(`payout ${t.id} kept changing; try again`);
    }
  }

  /**
   * Starts create requests as one group, in one round trip: each inserts its idempotency record (the
   * "hold requested" intent, with the payout id its key will have) unless the merchant's key is already
   * recorded, in which case the standing record is returned. Several requests of one group with the same
   * key: the first starts, the others see its record.
   */
  async beginRequests(records: RequestRecord[]): Promise<Array<Outcome<BeginOutcome>>> {
    const digests = records.map((r) => keyDigest(r.merchantId, r.idempotencyKey));
    const firsts = new Map<string, RequestRecord>();
    records.forEach((r, i) => {
      if (!firsts.has(digests[i]!)) firsts.set(digests[i]!, r);
    });
    const ignore = this.#db.kind === "sqlite" ? "insert or ignore" : "insert ignore";
    // In digest order: concurrent groups retrying the same keys then lock them in one order, never crosswise.
    const inserts = [...firsts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const [, stored] = (await this.#db.sql.many([
      [
        `${ignore} into payout_requests (${REQUEST_COLUMNS}) values ${tuples(inserts.length, REQUEST_WIDTH)}`,
        inserts.flatMap(([digest, r]) => requestValues(r, digest)),
      ],
      [`select * from payout_requests where key_digest in (${placeholders(firsts.size)})`, [...firsts.keys()]],
    ])) as [number, Row[]];
    const found = new Map(stored.map((row) => [row.key_digest as string, requestFromRow(row)]));
    return records.map((r, i) => {
      const record = found.get(digests[i]!);
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
    const updated = await this.#db.sql.run(
      `update payout_requests set owner = ?, state = 'in_progress', locked_until = ?, error_code = null,
              error_reason = null, error_message = null, error_field = null, updated_at = ?, created_at = ?, expires_at = ?
        where payout_id = ? and owner = ? and state = ?`,
      [owner, lockedUntil, now, now, expiresAt, record.payoutId, record.owner, record.state],
    );
    return updated === 1;
  }

  /** Stores a create's error as the key's outcome, replayed until `expiresAt`. */
  async failRequest(payoutId: string, owner: string, error: StoredError, expiresAt: Date): Promise<void> {
    await this.#db.sql.run(
      `update payout_requests set state = 'failed', error_code = ?, error_reason = ?, error_message = ?, error_field = ?,
              updated_at = ?, expires_at = ?
        where payout_id = ? and owner = ? and state = 'in_progress'`,
      [
        error.code,
        error.reason.slice(0, 64),
        error.message.slice(0, 255),
        error.field?.slice(0, 64) ?? null,
        new Date(),
        expiresAt,
        payoutId,
        owner,
      ],
    );
  }

  /** Lets a retry take the key over at once (the request ended with a transient error). */
  async unlockRequest(payoutId: string, owner: string): Promise<void> {
    const now = new Date();
    await this.#db.sql.run(
      "update payout_requests set locked_until = ?, updated_at = ? where payout_id = ? and owner = ? and state = 'in_progress'",
      [now, now, payoutId, owner],
    );
  }

  async getRequest(payoutId: string): Promise<RequestRecord | undefined> {
    const [row] = await this.#db.sql.query("select * from payout_requests where payout_id = ?", [payoutId]);
    return row ? requestFromRow(row) : undefined;
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

  /**
   * One transaction, in one round trip as a rule: marking the requests done, conditional on each still
   * owning its key, guards the inserts. When a request lost its key (its lock ran out and a retry took it
   * over), the requests are locked and read in a second transaction and only the payouts still owned are
   * inserted; the others are "lost".
   */
  async #insertGroup(items: NewPayoutInsert[]): Promise<Array<Outcome<InsertOutcome>>> {
    const now = new Date();
    let result: { mine: NewPayoutInsert[]; queued: OutboxRow[] };
    try {
      result = { mine: items, queued: await this.#db.sql.transaction((tx) => this.#insertOwned(tx, items, now)) };
    } catch (err) {
      if (!(err instanceof RowCountMismatch)) throw err;
      const lock = this.#db.kind === "sqlite" ? "" : " for update";
      const ids = [...new Set(items.map((i) => i.row.id))].sort();
      result = await this.#db.sql.transaction(async (tx) => {
        const records = await tx.query<{ payout_id: string; owner: string; state: string }>(
          `select payout_id, owner, state from payout_requests where payout_id in (${placeholders(ids.length)})${lock}`,
          ids,
        );
        const ownerOf = new Map(records.filter((r) => r.state === "in_progress").map((r) => [r.payout_id, r.owner]));
        const mine = items.filter((i) => ownerOf.get(i.row.id) === i.owner);
        return { mine, queued: mine.length > 0 ? await this.#insertOwned(tx, mine, now) : [] };
      });
    }
    const created = new Set(result.mine);
    this.#committed(
      result.mine.map((i) => ({ from: null, to: i.row.status, row: i.row })),
      result.queued,
    );
    return items.map((i) => ({ ok: true, value: created.has(i) ? "created" : "lost" }));
  }

  /**
   * Inserts payouts whose requests all own their keys, with their first transitions and events, and marks
   * the requests done; rejects with `RowCountMismatch` when a request no longer owns its key.
   */
  async #insertOwned(tx: SqlTransaction, items: NewPayoutInsert[], now: Date): Promise<OutboxRow[]> {
    const outbox = this.#outbox(items.map((i) => ({ row: i.row, actions: [], notify: true })));
    await tx.commitWhen(
      [
        `update payout_requests set state = 'done', updated_at = ?
          where payout_id in (${placeholders(items.length)}) and state = 'in_progress'
            and owner = case payout_id ${items.map(() => "when ? then ?").join(" ")} end`,
        [now, ...items.map((i) => i.row.id), ...items.flatMap((i) => [i.row.id, i.owner])],
      ],
      items.length,
      [
        [
          `insert into payouts (${PAYOUT_COLUMNS}) values ${tuples(items.length, PAYOUT_WIDTH)}`,
          items.flatMap((i) => payoutValues(i.row)),
        ],
        insertTransitions(
          items.map((i) => ({
            payoutId: i.row.id,
            from: null,
            to: i.row.status,
            reason: "created",
            actor: i.actor,
            at: i.row.createdAt,
          })),
        ),
        ...outbox.statements,
      ],
    );
    return outbox.rows;
  }

  /**
   * Reconciler: requests still in progress after the grace period, whose lock ran out before
   * `lockedBefore` and whose payout never got stored, had their hold asked for and then crashed (or gave
   * up). Marks up to `limit` of them abandoned and queues a ledger release for each, in one transaction;
   * the relay releases the hold (a hold that never got made is fine). Returns the abandoned payout ids.
   */
  async abandonStaleRequests(olderThan: Date, lockedBefore: Date, limit: number, keepFor: Date): Promise<string[]> {
    const now = new Date();
    const lock = this.#db.kind === "sqlite" ? "" : " for update skip locked";
    return this.#db.sql.transaction(async (tx) => {
      const stale = await tx.query<{ payout_id: string; merchant_id: string }>(
        `select payout_id, merchant_id from payout_requests
          where state = 'in_progress' and created_at < ? and locked_until < ? order by created_at limit ${limit}${lock}`,
        [olderThan, lockedBefore],
      );
      if (stale.length === 0) return [];
      const ids = stale.map((s) => s.payout_id);
      const existing = await tx.query<{ id: string }>(
        `select id from payouts where id in (${placeholders(ids.length)})`,
        ids,
      );
      const withPayout = new Set(existing.map((p) => p.id));
      const orphans = stale.filter((s) => !withPayout.has(s.payout_id));
      const writes: Statement[] = [];
      if (withPayout.size > 0) {
        writes.push([
          `update payout_requests set state = 'done', updated_at = ? where payout_id in (${placeholders(withPayout.size)})`,
          [now, ...withPayout],
        ]);
      }
      if (orphans.length > 0) {
        const orphanIds = orphans.map((o) => o.payout_id);
        writes.push(
          [
            `update payout_requests set state = 'abandoned', error_code = ?, error_reason = 'REQUEST_ABANDONED', error_message = ?,
                    updated_at = ?, expires_at = ? where payout_id in (${placeholders(orphanIds.length)})`,
            [
              Code.FailedPrecondition,
              "the first request with this idempotency key never completed and its funds were released; use a new key",
              now,
              keepFor,
              ...orphanIds,
            ],
          ],
          [
            `insert into outbox (id, payout_id, kind, merchant_id, payload, attempts, next_attempt_at, created_at) values ${tuples(orphans.length, 8)}`,
            orphans.flatMap((o) => [
              `release_${o.payout_id}`,
              o.payout_id,
              "release",
              o.merchant_id,
              null,
              0,
              now,
              now,
            ]),
          ],
        );
      }
      await tx.commitWith(writes);
      return orphans.map((o) => o.payout_id);
    });
  }

  /** Forgets stored errors past their expiry, so their keys may be used again. Returns how many. */
  async purgeExpiredRequests(limit: number): Promise<number> {
    const expired = await this.#db.sql.query<{ payout_id: string }>(
      `select payout_id from payout_requests where state = 'failed' and expires_at < ? limit ${Math.floor(limit)}`,
      [new Date()],
    );
    if (expired.length === 0) return 0;
    return this.#db.sql.run(
      `delete from payout_requests where payout_id in (${placeholders(expired.length)}) and state = 'failed'`,
      expired.map((e) => e.payout_id),
    );
  }

  /**
   * The processor's result columns of many payouts in ONE statement (CASE per column), ending their leases.
   * It touches only rows still PROCESSING under `leaseIds` (one per row), so its count tells whether all were.
   */
  #updateLeasedRows(rows: PayoutRow[], leaseIds: string[]): Statement {
    const columns: Array<[string, (r: PayoutRow) => SqlValue]> = [
      ["status", (r) => r.status],
      ["psp_reference", (r) => r.pspReference],
      ["failure_code", (r) => r.failureCode],
      ["failure_message", (r) => r.failureMessage],
      ["processed_at", (r) => r.processedAt],
      ["next_attempt_at", (r) => r.nextAttemptAt],
      ["updated_at", (r) => r.updatedAt],
    ];
    const params: SqlValue[] = [];
    const cases = rows.map(() => "when ? then ?").join(" ");
    const sets = columns.map(([column, value]) => {
      for (const r of rows) params.push(r.id, value(r));
      return `${column} = case id ${cases} end`;
    });
    params.push(...rows.map((r) => r.id));
    params.push(...rows.flatMap((r, i) => [r.id, leaseIds[i]!]));
    return [
      `update payouts set ${sets.join(", ")}, lease_id = null, lease_until = null
        where id in (${placeholders(rows.length)}) and status = 'PROCESSING' and lease_id = case id ${cases} end`,
      params,
    ];
  }

  /**
   * The outbox inserts of committed changes (none when nothing is queued). With an in-process relay they
   * are leased to this process, which relays them right after the commit (`#committed`).
   */
  #outbox(items: Queued[]): { statements: Statement[]; rows: OutboxRow[] } {
    const now = new Date();
    const dueAt = this.#handoff ? new Date(now.getTime() + this.#handoff.leaseMs) : now;
    const rows: OutboxRow[] = [];
    for (const { row, actions, notify } of items) {
      const base = { payoutId: row.id, merchantId: row.merchantId, attempts: 0 };
      for (const action of actions) rows.push({ ...base, id: `${action}_${row.id}`, kind: action, payload: null });
      if (notify) {
        const event = payoutUpdatedEvent(row);
        rows.push({ ...base, id: event.id, kind: "event", payload: event.body });
      }
    }
    if (rows.length === 0) return { statements: [], rows };
    const insert: Statement = [
      `insert into outbox (id, payout_id, kind, merchant_id, payload, attempts, next_attempt_at, created_at) values ${tuples(rows.length, 8)}`,
      rows.flatMap((r) => [r.id, r.payoutId, r.kind, r.merchantId, r.payload, 0, dueAt, now]),
    ];
    return { statements: [insert], rows };
  }

  /** After a commit: metrics learn of its transitions, and the in-process relay gets its outbox messages. */
  #committed(transitions: CommittedTransition[], queued: OutboxRow[]): void {
    if (transitions.length > 0) this.#onTransitions(transitions);
    if (queued.length > 0) this.#handoff?.deliver(queued);
  }
}
