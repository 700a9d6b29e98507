import {
  appError,
  Code,
  type Database,
  errorDetails,
  type GroupCommitOptions,
  GroupCommitter,
  type Guard,
  notFound,
  type Outcome,
  orderedId,
  placeholders,
  Reason,
  type Row,
  RowCountMismatch,
  type Sql,
  type SqlTransaction,
  type SqlValue,
  type Statement,
  sqlDate,
  tuples,
} from "@mypay/kit";
import { AccountKind, HoldState, Movement, type MovementKind, ownerOf, PLATFORM } from "../domain/accounts.ts";
import { Account, Entry, Transfer } from "./entities.ts";
import { RecentMap } from "./recent-map.ts";

export interface BalanceView {
  merchantId: string;
  currency: string;
  available: bigint;
  locked: bigint;
}

export interface HoldView {
  id: string;
  merchantId: string;
  currency: string;
  amount: bigint;
  status: HoldState;
  createdAt: Date;
  updatedAt: Date;
}

export interface EntryView {
  id: string;
  transferId: string;
  merchantId: string;
  kind: AccountKind;
  currency: string;
  amount: bigint;
  transferKind: MovementKind;
  /** The hold a hold/capture/release transfer belongs to; empty for top-ups. */
  holdId: string;
  createdAt: Date;
}

export interface EntryFilter {
  /** Empty: every merchant and the platform accounts. */
  merchantId: string;
  kind?: AccountKind | undefined;
  currency?: string | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  /** Entries older than this entry id (the previous page's last id). */
  startingAfter?: bigint | undefined;
  limit: number;
}

export interface InvariantReport {
  ok: boolean;
  violations: string[];
  entriesChecked: bigint;
  accountsChecked: bigint;
  /** The whole check: every hold. The incremental check: the hold, capture and release transfers it proved. */
  holdsChecked: bigint;
}

/** How an operation ended, as the `result` label of `ledger_operations_total`. */
export type OperationResult = "ok" | "insufficient_funds" | "already_final" | "mismatch" | "error";

/** Hooks the store calls so metrics stay out of it. */
export interface LedgerObserver {
  operation(op: MovementKind, result: OperationResult): void;
  /** Operations in one group commit. */
  batch(size: number): void;
  /** A transaction retried after a deadlock, lock-wait timeout or a racing insert. */
  conflict(): void;
  invariants(ok: boolean): void;
}

const QUIET: LedgerObserver = { operation() {}, batch() {}, conflict() {}, invariants() {} };

export interface LedgerStoreOptions {
  groupCommit?: Partial<GroupCommitOptions>;
  observer?: LedgerObserver;
}

export const DEFAULT_GROUP_COMMIT: GroupCommitOptions = { maxBatch: 32, maxWaitMs: 0, concurrency: 4 };

/** One hold to place. */
export interface HoldItem {
  merchantId: string;
  holdId: string;
  currency: string;
  amount: bigint;
  /**
   * When the caller stops waiting (epoch ms). A new hold not yet placed by then is refused, so no hold
   * lands long after its caller gave up (the payouts reconciler counts on that before it releases).
   */
  deadline?: number | undefined;
}

/** One queued ledger operation. Top-up keys are the caller's; hold ids key holds, captures and releases. */
export type LedgerOp =
  | { kind: "topup"; merchantId: string; currency: string; amount: bigint; key: string }
  | ({ kind: "hold" } & HoldItem)
  | { kind: "capture" | "release"; holdId: string };

type OpResult = BalanceView | HoldView;

/** The accounts an operation moves money between (and, for a top-up, the locked account it reports). */
interface AccountPlan {
  debit: string;
  credit: string;
  locked?: string;
}

const MERCHANT_KINDS: AccountKind[] = [AccountKind.AVAILABLE, AccountKind.LOCKED];
const ALL_KINDS: AccountKind[] = [...MERCHANT_KINDS, AccountKind.FUNDING, AccountKind.SETTLEMENT];
const FINAL_STATE = { capture: HoldState.CAPTURED, release: HoldState.RELEASED } as const;
/** Attempts of one batch transaction that lost a race (deadlock, lock timeout, racing insert). */
const MAX_ATTEMPTS = 6;

const accountKey = (merchantId: string, currency: string, kind: AccountKind) =>
  `${ownerOf(kind, merchantId)}\u0000${currency}\u0000${kind}`;

/** Whose accounts a hold moves: its merchant's, in its currency. */
interface Owner {
  merchantId: string;
  currency: string;
}

/** What never changes about a hold: its owner, amount and creation time. */
interface KnownHold extends Owner {
  amount: bigint;
  createdAt: Date;
}

/** Holds kept in memory, in two generations of this many (the oldest forgotten first): seconds of holds at full rate. */
const KNOWN_HOLDS = 5_000;
/** Account balances kept in memory, in two generations of this many: the accounts of thousands of merchants. */
const KNOWN_BALANCES = 10_000;

/** A batch judged from balances in memory that the database no longer holds: it is judged again from a read. */
class StaleBalances extends Error {}

/**
 * Double-entry storage. Top-ups, holds, captures and releases are group committed: operations that
 * arrive together share one transaction, in which the touched account rows are locked once (in one
 * global order: ascending account id, so batches never deadlock each other), every operation is judged
 * in arrival order against running balances in memory, and the results are written with a handful of
 * bulk statements. Each operation keeps its own outcome; a batch either commits whole or not at all.
 */
export class LedgerStore {
  readonly #db: Database;
  readonly #observer: LedgerObserver;
  readonly #committer: GroupCommitter<LedgerOp, OpResult>;
  /** Account ids never change once created, so they are cached for the life of the process. */
  readonly #accountIds = new Map<string, string>();
  /** Account kinds by id, for the no-negative rule when a batch is judged from memory. */
  readonly #accountKinds = new Map<string, AccountKind>();
  /**
   * Holds this process placed or read lately (a hold's merchant, currency and amount never change): a
   * capture or release of one of them needs no read before its batch to learn whose accounts to lock.
   */
  readonly #knownHolds = new RecentMap<string, KnownHold>(KNOWN_HOLDS);
  /**
   * What each account lately touched by this process will hold once every batch it has sent commits. A
   * batch whose accounts and holds are all known here is judged without reading them first, and its
   * writes commit only if the database still holds exactly these balances (and its holds are still
   * pending); otherwise it is judged again from a locking read. Batches sent while others are in flight
   * start from the balances those will leave, so a hot merchant's batches follow one another.
   */
  readonly #expected = new RecentMap<string, bigint>(KNOWN_BALANCES);

  constructor(db: Database, options: LedgerStoreOptions = {}) {
    this.#db = db;
    this.#observer = options.observer ?? QUIET;
    this.#committer = new GroupCommitter({ ...DEFAULT_GROUP_COMMIT, ...options.groupCommit }, (ops) =>
      this.commit(ops),
    );
  }

  /**
   * Creates the merchant's and the platform's accounts for a currency if they do not exist. Only the
   * missing rows are inserted: concurrent INSERT IGNOREs of rows that exist deadlock on InnoDB.
   */
  async openAccounts(merchantId: string, currency: string): Promise<void> {
    if (this.#knowsAccounts(merchantId, currency)) return;
    await this.#learnAccounts([merchantId]);
    const now = new Date();
    const missing = ALL_KINDS.filter((kind) => !this.#accountIds.has(accountKey(merchantId, currency, kind)));
    if (missing.length === 0) return;
    const values = missing.flatMap((kind) => [orderedId(), ownerOf(kind, merchantId), currency, kind, 0, now]);
    const ignore = this.#db.kind === "sqlite" ? "insert or ignore" : "insert ignore";
    await this.#retrying(() =>
      this.#db.sql.run(
        `${ignore} into accounts (id, merchant_id, currency, kind, balance, updated_at) values ${tuples(missing.length, 6)}`,
        values,
      ),
    );
    await this.#learnAccounts([merchantId]);
  }

  /** funding → available. Idempotent on `key`; the same key with other arguments is rejected. */
  async topUp(merchantId: string, currency: string, amount: bigint, key: string): Promise<BalanceView> {
    // Known accounts queue the top-up at once, keeping its place in arrival order.
    if (!this.#knowsAccounts(merchantId, currency)) await this.openAccounts(merchantId, currency);
    return (await this.#committer.submit({ kind: "topup", merchantId, currency, amount, key })) as BalanceView;
  }

  /** available → locked under `holdId`. INSUFFICIENT_FUNDS leaves nothing behind. */
  async hold(
    merchantId: string,
    holdId: string,
    currency: string,
    amount: bigint,
    deadline?: number,
  ): Promise<HoldView> {
    return (await this.#committer.submit({ kind: "hold", merchantId, holdId, currency, amount, deadline })) as HoldView;
  }

  /** locked → settlement, once. Repeating returns the captured hold; a released hold fails HOLD_ALREADY_FINAL. */
  async capture(holdId: string): Promise<HoldView> {
    return (await this.#committer.submit({ kind: "capture", holdId })) as HoldView;
  }

  /** locked → available, once. Repeating returns the released hold; a captured hold fails HOLD_ALREADY_FINAL. */
  async release(holdId: string): Promise<HoldView> {
    return (await this.#committer.submit({ kind: "release", holdId })) as HoldView;
  }

  /** Queues many holds at once (they share batches with every other operation); one outcome per item, in order. */
  placeHolds(items: HoldItem[]) {
    return Promise.all(
      items.map((item) =>
        this.#committer.submit({ kind: "hold", ...item }).then(
          (value): Outcome<HoldView> => ({ ok: true, value: value as HoldView }),
          (error: unknown): Outcome<HoldView> => ({ ok: false, error }),
        ),
      ),
    );
  }

  /** Captures or releases many holds in one transaction; one outcome per item, in order. */
  settle(items: Array<{ holdId: string; action: "capture" | "release" }>): Promise<Outcome<HoldView>[]> {
    return this.commit(items.map((item) => ({ kind: item.action, holdId: item.holdId }))) as Promise<
      Outcome<HoldView>[]
    >;
  }

  /** Resolves once every queued operation has been committed (for shutdown). */
  drained(): Promise<void> {
    return this.#committer.drained();
  }

  async getHold(holdId: string): Promise<HoldView | undefined> {
    return (await this.#readHolds(this.#db.sql, [holdId])).get(holdId);
  }

  async balance(merchantId: string, currency: string): Promise<BalanceView> {
    const rows = await this.#db.sql.query<{ kind: string; balance: string | number }>(
      "select kind, balance from accounts where merchant_id = ? and currency = ? and kind in (?, ?)",
      [merchantId, currency, ...MERCHANT_KINDS],
    );
    if (rows.length === 0) throw notFound(`merchant ${merchantId} account in ${currency}`);
    const of = (kind: string) => BigInt(rows.find((r) => r.kind === kind)?.balance ?? 0n);
    return { merchantId, currency, available: of(AccountKind.AVAILABLE), locked: of(AccountKind.LOCKED) };
  }

  /** Count and sum of PENDING holds (all currencies), for the outstanding-holds gauges. */
  async outstandingHolds(): Promise<{ count: number; minor: bigint }> {
    const [row] = await this.#db
      .em()
      .getConnection()
      .execute<Array<{ n: unknown; s: unknown }>>(
        "select count(*) as n, coalesce(sum(amount), 0) as s from holds where status = ?",
        [HoldState.PENDING],
        "all",
      );
    return { count: Number(row?.n ?? 0), minor: BigInt(String(row?.s ?? 0)) };
  }

  /**
   * Entries newest first. Resolves the accounts the filter names first, so the entry scan runs on
   * the (account_id) index; pages by entry id, which only grows.
   */
  async listEntries(filter: EntryFilter): Promise<{ entries: EntryView[]; hasMore: boolean }> {
    const em = this.#db.em();
    const accountWhere: Record<string, unknown> = {};
    if (filter.merchantId !== "") accountWhere.merchantId = filter.merchantId;
    if (filter.kind) accountWhere.kind = filter.kind;
    if (filter.currency) accountWhere.currency = filter.currency;
    const readAccounts = (where: Record<string, unknown>) =>
      em.createQueryBuilder(Account).select(["id", "merchantId", "currency", "kind"]).where(where).execute("all");
    const filtered = Object.keys(accountWhere).length > 0;
    // With an account filter, its accounts first (few); without one, only the accounts of the page (after).
    const accounts = filtered ? await readAccounts(accountWhere) : [];
    if (filtered && accounts.length === 0) return { entries: [], hasMore: false };
    const where: Record<string, unknown> = {};
    if (filtered) where.accountId = { $in: accounts.map((a) => a.id) };
    const createdAt: Record<string, Date> = {};
    if (filter.createdAfter) createdAt.$gt = filter.createdAfter;
    if (filter.createdBefore) createdAt.$lt = filter.createdBefore;
    if (Object.keys(createdAt).length > 0) where.createdAt = createdAt;
    if (filter.startingAfter !== undefined) where.id = { $lt: filter.startingAfter };
    const rows = await em
      .createQueryBuilder(Entry)
      .select(["id", "transferId", "accountId", "amount", "createdAt"])
      .where(where)
      .orderBy({ id: "desc" })
      .limit(filter.limit + 1)
      .execute("all");
    const page = rows.slice(0, filter.limit);
    if (!filtered && page.length > 0)
      accounts.push(...(await readAccounts({ id: { $in: [...new Set(page.map((r) => r.accountId))] } })));
    const accountById = new Map(accounts.map((a) => [a.id, a]));
    const transferIds = [...new Set(page.map((r) => r.transferId))];
    const transfers =
      transferIds.length === 0
        ? []
        : await em
            .createQueryBuilder(Transfer)
            .select(["id", "kind", "idempotencyKey"])
            .where({ id: { $in: transferIds } })
            .execute("all");
    const transferById = new Map(transfers.map((t) => [t.id, t]));
    const entries = page.map((row): EntryView => {
      const account = accountById.get(row.accountId);
      const transfer = transferById.get(row.transferId);
      const transferKind = (transfer?.kind ?? "topup") as MovementKind;
      return {
        id: String(row.id),
        transferId: row.transferId,
        merchantId: account?.merchantId ?? PLATFORM,
        kind: (account?.kind ?? AccountKind.FUNDING) as AccountKind,
        currency: account?.currency ?? "",
        amount: BigInt(row.amount),
        transferKind,
        holdId: transferKind === "topup" ? "" : (transfer?.idempotencyKey.slice(transferKind.length + 1) ?? ""),
        createdAt: sqlDate(row.createdAt),
      };
    });
    return { entries, hasMore: rows.length > filter.limit };
  }

  /**
   * Proves the whole books from the entries, in one consistent snapshot: entries sum to zero; every
   * transfer is one debit and one equal credit; every account's balance is the sum of its entries and its
   * entry count their number; no merchant account is negative; every hold has exactly the transfers its
   * state implies; each merchant's locked balance equals its pending holds (so balance = available + locked
   * holds money that exists). Reads every row. Reports to the observer, which keeps `ledger_invariants_ok`.
   */
  async verifyInvariants(): Promise<InvariantReport> {
    const report = await this.#inSnapshot(async (query) => {
      const violations: string[] = [];
      const [total] = await query("select coalesce(sum(amount), 0) as total, count(*) as n from entries");
      const sum = BigInt(String(total?.total ?? 0));
      if (sum !== 0n) violations.push(`entries sum to ${sum}, not 0`);

      const unbalanced = await query(
        `select t.id from transfers t left join entries e on e.transfer_id = t.id group by t.id having ${UNBALANCED}`,
      );
      if (unbalanced.length > 0) violations.push(`${UNBALANCED_TRANSFERS}: ${sample(unbalanced, (r) => String(r.id))}`);
      const [orphans] = await query(
        "select count(*) as n from entries e left join transfers t on t.id = e.transfer_id where t.id is null",
      );
      if (Number(orphans?.n) > 0) violations.push(`${orphans?.n} entries without a transfer`);

      const drift = await query(
        `select a.id, a.balance, a.entry_count, coalesce(s.total, 0) as entries, coalesce(s.n, 0) as n
           from accounts a
           left join (select account_id, sum(amount) as total, count(*) as n from entries group by account_id) s
             on s.account_id = a.id
          where a.balance <> coalesce(s.total, 0) or a.entry_count <> coalesce(s.n, 0)`,
      );
      if (drift.length > 0) violations.push(driftViolation(drift));
      violations.push(...(await holdViolations(query, "holds h")), ...(await accountViolations(query)));
      const [counts] = await query(
        "select (select count(*) from accounts) as accounts, (select count(*) from holds) as holds",
      );
      return {
        ok: violations.length === 0,
        violations,
        entriesChecked: BigInt(String(total?.n ?? 0)),
        accountsChecked: BigInt(String(counts?.accounts ?? 0)),
        holdsChecked: BigInt(String(counts?.holds ?? 0)),
      };
    });
    this.#observer.invariants(report.ok);
    return report;
  }

  /**
   * Proves what changed since the last check that found nothing wrong, in one consistent snapshot; the
   * periodic check, whose cost follows the activity since the last one rather than the size of the books.
   * Each account's checkpoint holds a state already proved: its balance, entry count and newest entry id.
   * Every account whose balance or count moved since is proved from its checkpoint and its newer entries
   * (balance = checkpoint + their sum, count = checkpoint + their number), every transfer those entries
   * debit is one debit and one equal credit, no new entry lacks its transfer, and every hold they move has
   * exactly the transfers its state implies. Over all accounts, without reading entries: balances sum to
   * zero (so do the entries), no merchant account is negative, each locked balance equals its pending holds.
   * When all holds, the checkpoints move to the snapshot's state; when not, they stay, so the next check
   * finds the same fault until it is mended.
   *
   * Sound because an account's entries are written only while its row is locked (`#apply`): a later
   * transfer takes the lock after the earlier one committed, so it draws higher entry ids, and no entry can
   * become visible later with an id below one already proved. What it cannot see, `verifyInvariants` does:
   * rows changed behind the ledger's back without moving any balance or count (an old entry edited in
   * place, a final hold's state swapped).
   */
  async verifyRecent(): Promise<InvariantReport> {
    const now = new Date();
    const { report, proved } = await this.#inSnapshot(async (query) => {
      const violations: string[] = [];
      const changed = await query(
        `select a.id, a.merchant_id, a.balance, a.entry_count, c.balance as checked_balance,
                c.entry_count as checked_count, c.last_entry_id
           from accounts a left join invariant_checkpoints c on c.account_id = a.id
          where c.account_id is null or a.balance <> c.balance or a.entry_count <> c.entry_count
          order by a.merchant_id`,
      );
      const proved: SqlValue[] = [];
      const drift: Record<string, unknown>[] = [];
      const unbalanced: Record<string, unknown>[] = [];
      let entries = 0n;
      let orphans = 0n;
      let holds = 0n;
      for (const chunk of byMerchant(changed, RANGES_PER_QUERY)) {
        const params = chunk.flatMap((a) => [a.id, a.last_entry_id ?? 0]);
        // The chunk's entries newer than their account's checkpoint: one index range per account (an OR of
        // ranges is read as such; the same ranges as a derived union made the server join 20 times slower).
        const newer = (alias: string) =>
          `(${chunk.map(() => `(${alias}.account_id = ? and ${alias}.id > ?)`).join(" or ")})`;
        const sums = await query(
          `select e.account_id, count(*) as n, sum(e.amount) as total, max(e.id) as last,
                  sum(case when t.id is null then 1 else 0 end) as orphans,
                  sum(case when e.amount < 0 and t.kind <> ? then 1 else 0 end) as hold_moves
             from entries e left join transfers t on t.id = e.transfer_id
            where ${newer("e")} group by e.account_id`,
          ["topup", ...params],
        );
        const byAccount = new Map(sums.map((r) => [String(r.account_id), r]));
        for (const account of chunk) {
          const found = byAccount.get(String(account.id));
          const n = BigInt(String(found?.n ?? 0));
          const total = BigInt(String(found?.total ?? 0));
          const balance = BigInt(String(account.balance));
          const count = BigInt(String(account.entry_count));
          const expectedBalance = BigInt(String(account.checked_balance ?? 0)) + total;
          const expectedCount = BigInt(String(account.checked_count ?? 0)) + n;
          entries += n;
          orphans += BigInt(String(found?.orphans ?? 0));
          holds += BigInt(String(found?.hold_moves ?? 0));
          if (balance !== expectedBalance || count !== expectedCount) {
            drift.push({ ...account, entries: expectedBalance, n: expectedCount });
          }
          proved.push(
            String(account.id),
            balance,
            count,
            BigInt(String(found?.last ?? account.last_entry_id ?? 0)),
            now,
          );
        }
        // Each new transfer once, from its debit entry (a transfer without one leaves the balances' sum off
        // zero). Only what is wrong comes back: the work grows with the activity, the memory does not.
        const debits = `${newer("d")} and d.amount < 0`;
        unbalanced.push(
          ...(await query(
            `select t.id from entries d join transfers t on t.id = d.transfer_id join entries e on e.transfer_id = t.id
              where ${debits} group by t.id having ${UNBALANCED}`,
            params,
          )),
        );
        // Every hold those transfers move: all of them debit its merchant's accounts, which share this chunk.
        const moved = `(select distinct substring(t.idempotency_key, length(t.kind) + 2) as id
                          from entries d join transfers t on t.id = d.transfer_id where ${debits} and t.kind <> ?)`;
        violations.push(
          ...(await holdViolations(query, `holds h join ${moved} k on k.id = h.id`, [...params, "topup"])),
        );
      }
      if (drift.length > 0) violations.push(driftViolation(drift));
      if (unbalanced.length > 0) violations.push(`${UNBALANCED_TRANSFERS}: ${sample(unbalanced, (r) => String(r.id))}`);
      if (orphans > 0n) violations.push(`${orphans} entries without a transfer`);
      const [books] = await query("select coalesce(sum(balance), 0) as total, count(*) as n from accounts");
      const sum = BigInt(String(books?.total ?? 0));
      if (sum !== 0n) violations.push(`account balances sum to ${sum}, not 0`);
      violations.push(...(await accountViolations(query)));
      const report: InvariantReport = {
        ok: violations.length === 0,
        violations,
        entriesChecked: entries,
        accountsChecked: BigInt(String(books?.n ?? 0)),
        holdsChecked: holds,
      };
      return { report, proved };
    });
    if (report.ok) await this.#saveCheckpoints(proved);
    this.#observer.invariants(report.ok);
    return report;
  }

  /** Moves the checkpoints of the proved accounts, `CHECKPOINT_WIDTH` values per account. */
  async #saveCheckpoints(values: SqlValue[]): Promise<void> {
    const update =
      this.#db.kind === "sqlite"
        ? "on conflict (account_id) do update set balance = excluded.balance, entry_count = excluded.entry_count, last_entry_id = excluded.last_entry_id, checked_at = excluded.checked_at"
        : "on duplicate key update balance = values(balance), entry_count = values(entry_count), last_entry_id = values(last_entry_id), checked_at = values(checked_at)";
    const perStatement = RANGES_PER_QUERY * CHECKPOINT_WIDTH;
    for (let i = 0; i < values.length; i += perStatement) {
      const chunk = values.slice(i, i + perStatement);
      await this.#db.sql.run(
        `insert into invariant_checkpoints (account_id, balance, entry_count, last_entry_id, checked_at) values ${tuples(chunk.length / CHECKPOINT_WIDTH, CHECKPOINT_WIDTH)} ${update}`,
        chunk,
      );
    }
  }

  /** Runs `work` over one consistent snapshot of the books (a REPEATABLE READ transaction on a server). */
  #inSnapshot<T>(work: (query: Query) => Promise<T>): Promise<T> {
    return this.#db
      .em()
      .transactional((em) => work((sql, params = []) => em.execute<Record<string, unknown>[]>(sql, params, "all")));
  }

  /**
   * Applies a batch of operations in one transaction, each with its own outcome, in order. Public for
   * SettleHolds (a caller's batch is already a group) and tests; callers normally go through the
   * group committer via topUp/hold/capture/release.
   */
  async commit(ops: LedgerOp[]): Promise<Outcome<OpResult>[]> {
    this.#observer.batch(ops.length);
    const outcomes: Array<Outcome<OpResult> | undefined> = new Array(ops.length);
    try {
      // Captures and releases name only a hold: unless this process knows its owner, read it first to
      // learn whose accounts to lock. Final holds never change again, so those are answered without a
      // transaction (a known hold's state is read inside the batch's).
      const settling = ops.flatMap((op) => (op.kind === "capture" || op.kind === "release" ? [op.holdId] : []));
      const unknown = settling.filter((id) => !this.#knownHolds.has(id));
      const before = unknown.length > 0 ? await this.#readHolds(this.#db.sql, unknown) : new Map<string, HoldView>();
      const owners = new Map<string, Owner>(before);
      for (const id of settling) {
        const owner = this.#knownHolds.get(id);
        if (owner) owners.set(id, owner);
      }
      await this.#resolveAccounts(ops, owners);
      const live: number[] = [];
      const homeless: number[] = [];
      ops.forEach((op, i) => {
        if (op.kind === "capture" || op.kind === "release") {
          const hold = before.get(op.holdId);
          if (hold && hold.status !== HoldState.PENDING) outcomes[i] = settled(hold, FINAL_STATE[op.kind]);
          else if (owners.has(op.holdId)) live.push(i);
          else outcomes[i] = failed(notFound(`hold ${op.holdId}`));
        } else if (this.#accountsOf(op, owners)) {
          live.push(i);
        } else {
          homeless.push(i);
        }
      });
      if (homeless.length > 0) {
        // No accounts: NOT_FOUND, unless the hold id is already taken (by another merchant or currency).
        const holdIds: string[] = [];
        for (const i of homeless) {
          const op = ops[i]!;
          if (op.kind === "hold") holdIds.push(op.holdId);
        }
        const taken = holdIds.length > 0 ? await this.#readHolds(this.#db.sql, holdIds) : new Map<string, HoldView>();
        for (const i of homeless) {
          const op = ops[i]!;
          if (op.kind !== "topup" && op.kind !== "hold") continue;
          const existing = op.kind === "hold" ? taken.get(op.holdId) : undefined;
          outcomes[i] = existing
            ? sameHold(existing, op.merchantId, op.currency, op.amount)
            : failed(notFound(`merchant ${op.merchantId} account in ${op.currency}`));
        }
      }
      if (live.length > 0) {
        const results = await this.#transact(
          live.map((i) => ops[i]!),
          owners,
        );
        live.forEach((opIndex, j) => {
          outcomes[opIndex] = results[j];
        });
      }
    } catch (err) {
      ops.forEach((_, i) => {
        outcomes[i] ??= failed(err);
      });
    }
    const done = outcomes.map((o) => o ?? failed(new Error("ledger operation was not judged")));
    ops.forEach((op, i) => {
      this.#observer.operation(op.kind, resultOf(done[i]!));
    });
    return done;
  }

  /**
   * Runs the batch transaction, retrying it whole when it loses a race with another process. READ
   * COMMITTED on a server: the balance UPDATE's `id IN (…)` may scan the (small) accounts table, and under
   * REPEATABLE READ every row it scans stays locked, so two batches of different merchants deadlock on
   * rows neither changes. Nothing here needs a snapshot: balances come from the locking read, and holds
   * are read after the locks, when every change to the locked merchants' holds has committed. A batch the
   * process can judge from memory tries that first, once; its guards decide whether memory was right.
   */
  async #transact(ops: LedgerOp[], owners: Map<string, Owner>): Promise<Outcome<OpResult>[]> {
    if (this.#knowsBatch(ops, owners)) {
      try {
        return await this.#db.sql.transaction((tx) => this.#apply(tx, ops, owners, true), { attempts: 1 });
      } catch (err) {
        // Whatever failed, what this process remembered of these accounts is no longer to be trusted.
        this.#forget(ops.flatMap((op) => planAccounts(this.#accountsOf(op, owners)!)));
        if (!(err instanceof RowCountMismatch || err instanceof StaleBalances || this.#isConflict(err))) throw err;
        this.#observer.conflict();
      }
    }
    return this.#retrying(() => this.#db.sql.transaction((tx) => this.#apply(tx, ops, owners, false), { attempts: 1 }));
  }

  /**
   * Whether a batch can be judged from memory: every account's balance known, every hold new or known, and
   * no top-up (whether its key was used before only a read tells).
   */
  #knowsBatch(ops: LedgerOp[], owners: Map<string, Owner>): boolean {
    return ops.every((op) => {
      if (op.kind === "topup") return false;
      // A hold id seen before is a replay, answered from a read.
      if (op.kind === "hold" && this.#knownHolds.has(op.holdId)) return false;
      if ((op.kind === "capture" || op.kind === "release") && !this.#knownHolds.has(op.holdId)) return false;
      const plan = this.#accountsOf(op, owners);
      return plan !== undefined && planAccounts(plan).every((id) => this.#expected.has(id));
    });
  }

  #forget(accountIds: string[]): void {
    for (const id of accountIds) this.#expected.delete(id);
  }

  /** Runs `work` again (after a short random pause) when it loses a race: deadlock, lock timeout, racing insert. */
  async #retrying<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !this.#isConflict(err)) throw err;
        this.#observer.conflict();
        await new Promise((done) => setTimeout(done, Math.random() * 2 ** attempt));
      }
    }
  }

  /**
   * One batch, each operation judged in arrival order against running balances in memory. From a read: in
   * two round trips on a server, the locking read of every touched account (in ascending id order, so
   * batches never deadlock each other) with the reads that follow it, then every write with the COMMIT.
   * From memory (`#expected`): in one round trip on MariaDB, the guarded writes and the COMMIT.
   */
  async #apply(
    tx: SqlTransaction,
    ops: LedgerOp[],
    owners: Map<string, Owner>,
    fromMemory: boolean,
  ): Promise<Outcome<OpResult>[]> {
    const now = new Date();
    const plans = ops.map((op) => this.#accountsOf(op, owners)!);
    const accountIds = [...new Set(plans.flatMap(planAccounts))].sort();
    const { balances, kinds, holds, fingerprints } = fromMemory
      ? this.#rememberedState(accountIds, ops)
      : await this.#readState(tx, accountIds, ops);
    // Judged after the locks (or, from memory, checked by them): from here only the writes and the COMMIT
    // stand between a hold and its caller.
    const judgedAt = Date.now();
    const startBalances = new Map(balances);
    /** A broken invariant stops a batch judged from a read; from memory it only means the memory was stale. */
    const broken = (message: string) => (fromMemory ? new StaleBalances(message) : new Error(message));

    const transfers: SqlValue[] = [];
    const entries: SqlValue[] = [];
    const placed: HoldView[] = [];
    const finished = { [HoldState.CAPTURED]: [] as string[], [HoldState.RELEASED]: [] as string[] };
    /** Entries this batch adds to each account. */
    const added = new Map<string, number>();
    const move = (kind: MovementKind, debit: string, credit: string, amount: bigint, key: string, fp: string) => {
      balances.set(debit, balances.get(debit)! - amount);
      balances.set(credit, balances.get(credit)! + amount);
      added.set(debit, (added.get(debit) ?? 0) + 1);
      added.set(credit, (added.get(credit) ?? 0) + 1);
      const transferId = orderedId();
      transfers.push(transferId, key, kind, debit, credit, amount, fp, now);
      entries.push(transferId, debit, -amount, now, transferId, credit, amount, now);
    };
    const deadlineOf = new Map<string, number>();
    const outcomes = ops.map((op, i): Outcome<OpResult> => {
      const { debit, credit, locked } = plans[i]!;
      if (op.kind === "topup") {
        const key = `topup:${op.key}`;
        const fingerprint = `topup:${op.merchantId}:${op.currency}:${op.amount}`;
        const prior = fingerprints.get(key);
        if (prior !== undefined && prior !== fingerprint) {
          return failed(
            appError(
              Code.Aborted,
              Reason.IDEMPOTENCY_MISMATCH,
              `idempotency key ${op.key} was used with other arguments`,
              {
                field: "idempotencyKey",
              },
            ),
          );
        }
        if (prior === undefined) {
          move("topup", debit, credit, op.amount, key, fingerprint);
          fingerprints.set(key, fingerprint);
        }
        return {
          ok: true,
          value: {
            merchantId: op.merchantId,
            currency: op.currency,
            available: balances.get(credit)!,
            locked: balances.get(locked!)!,
          },
        };
      }
      if (op.kind === "hold") {
        const existing = holds.get(op.holdId);
        if (existing) return sameHold(existing, op.merchantId, op.currency, op.amount);
        if (op.deadline !== undefined && op.deadline <= judgedAt) {
          return failed(
            appError(
              Code.DeadlineExceeded,
              Reason.UNAVAILABLE,
              "the caller's deadline passed before the hold was placed",
            ),
          );
        }
        if (balances.get(debit)! < op.amount) {
          return failed(
            appError(Code.FailedPrecondition, Reason.INSUFFICIENT_FUNDS, "insufficient available balance", {
              field: "amount",
            }),
          );
        }
        const key = `hold:${op.holdId}`;
        move("hold", debit, credit, op.amount, key, `hold:${op.merchantId}:${op.currency}:${op.amount}`);
        if (op.deadline !== undefined) deadlineOf.set(op.holdId, op.deadline);
        const hold: HoldView = {
          id: op.holdId,
          merchantId: op.merchantId,
          currency: op.currency,
          amount: op.amount,
          status: HoldState.PENDING,
          createdAt: now,
          updatedAt: now,
        };
        holds.set(op.holdId, hold);
        placed.push(hold);
        return { ok: true, value: hold };
      }
      const hold = holds.get(op.holdId);
      if (!hold) return failed(notFound(`hold ${op.holdId}`));
      const target = FINAL_STATE[op.kind];
      if (hold.status !== HoldState.PENDING) return settled(hold, target);
      if (balances.get(debit)! < hold.amount) {
        throw broken(`ledger invariant broken: locked balance below pending hold ${hold.id}`);
      }
      const key = `${op.kind}:${hold.id}`;
      move(op.kind, debit, credit, hold.amount, key, key);
      const after: HoldView = { ...hold, status: target, updatedAt: now };
      holds.set(hold.id, after);
      finished[target].push(hold.id);
      return { ok: true, value: after };
    });

    for (const [id, balance] of balances) {
      if (balance < 0n && kinds.get(id) !== AccountKind.FUNDING) {
        throw broken(`ledger invariant broken: account ${id} would go negative`);
      }
    }
    const inserts: Statement[] = [];
    if (transfers.length > 0) {
      inserts.push(
        [
          `insert into transfers (id, idempotency_key, kind, debit_account_id, credit_account_id, amount, fingerprint, created_at) values ${tuples(transfers.length / 8, 8)}`,
          transfers,
        ],
        [
          `insert into entries (transfer_id, account_id, amount, created_at) values ${tuples(entries.length / 4, 4)}`,
          entries,
        ],
      );
    }
    if (placed.length > 0) {
      inserts.push([
        `insert into holds (id, merchant_id, currency, amount, status, created_at, updated_at) values ${tuples(placed.length, 7)}`,
        placed.flatMap((h) => [h.id, h.merchantId, h.currency, h.amount, h.status, now, now]),
      ]);
    }
    const settles: Guard[] = [];
    for (const [status, ids] of Object.entries(finished)) {
      if (ids.length === 0) continue;
      settles.push([
        [
          `update holds set status = ?, updated_at = ? where id in (${placeholders(ids.length)}) and status = ?`,
          [status, now, ...ids, HoldState.PENDING],
        ],
        ids.length,
      ]);
    }
    // Batches sent from now on start from what this one leaves; if it fails, they learn from a read.
    for (const id of accountIds) this.#expected.set(id, balances.get(id)!);
    if (fromMemory) {
      // Judged before the locks: on a server the guard itself refuses a batch whose earliest new hold's
      // deadline has passed by the time its locks are granted, and the batch is judged again from a read.
      const deadlines = placed.flatMap((h) => deadlineOf.get(h.id) ?? []);
      const notAfter = deadlines.length > 0 && this.#db.kind !== "sqlite" ? Math.min(...deadlines) : undefined;
      const guard = balanceWrite(accountIds, startBalances, balances, added, now, { notAfter });
      await tx.commitWhenAll([[guard, accountIds.length], ...settles], inserts);
    } else {
      // The entry count moves with the balance (a hold released in the same batch adds entries, not balance).
      const update: Statement[] = added.size > 0 ? [balanceWrite(accountIds, startBalances, balances, added, now)] : [];
      try {
        await tx.commitWith([...update, ...inserts, ...settles.map(([statement]) => statement)]);
      } catch (err) {
        this.#forget(accountIds);
        throw err;
      }
    }
    for (const hold of placed) this.#rememberHold(hold);
    return outcomes;
  }

  /** The state a batch is judged on, as this process expects the database to hold it. */
  #rememberedState(accountIds: string[], ops: LedgerOp[]): JudgedState {
    const balances = new Map<string, bigint>();
    for (const id of accountIds) {
      const balance = this.#expected.get(id);
      // Forgotten since the batch was found known (another batch failed while this one waited for a connection).
      if (balance === undefined) throw new StaleBalances(`account ${id} is no longer known`);
      balances.set(id, balance);
    }
    const kinds = new Map(accountIds.map((id) => [id, this.#accountKinds.get(id)!]));
    const holds = new Map<string, HoldView>();
    for (const op of ops) {
      if (op.kind !== "capture" && op.kind !== "release") continue;
      const known = this.#knownHolds.get(op.holdId)!;
      // Pending, as far as this process knows: the COMMIT waits on exactly that (`#apply`).
      holds.set(op.holdId, {
        id: op.holdId,
        ...known,
        status: HoldState.PENDING,
        updatedAt: known.createdAt,
      });
    }
    // No top-up is judged from memory (`#knowsBatch`), so no earlier key is needed.
    return { balances, kinds, holds, fingerprints: new Map() };
  }

  /** The state a batch is judged on, read after locking its accounts. */
  async #readState(tx: SqlTransaction, accountIds: string[], ops: LedgerOp[]): Promise<JudgedState> {
    const forUpdate = this.#db.kind === "sqlite" ? "" : " for update";
    // Read after the locks (same round trip, later statements). Every change to a merchant's holds also
    // locks that merchant's rows, so this read (READ COMMITTED: the latest committed state) sees every
    // hold of the locked merchants. A hold id racing in under another merchant surfaces as a unique-key
    // violation on insert, and the retried batch then sees it.
    const holdIds = [...new Set(ops.flatMap((op) => (op.kind === "topup" ? [] : [op.holdId])))];
    const topUpKeys = ops.flatMap((op) => (op.kind === "topup" ? [`topup:${op.key}`] : []));
    const reads: Statement[] = [
      [
        `select id, kind, balance from accounts where id in (${placeholders(accountIds.length)}) order by id${forUpdate}`,
        accountIds,
      ],
    ];
    if (holdIds.length > 0) reads.push(holdsQuery(holdIds));
    if (topUpKeys.length > 0) {
      reads.push([
        `select idempotency_key, fingerprint from transfers where idempotency_key in (${placeholders(topUpKeys.length)})`,
        topUpKeys,
      ]);
    }
    const [lockedRows, ...rest] = (await tx.many(reads)) as Row[][];
    const balances = new Map<string, bigint>();
    const kinds = new Map<string, AccountKind>();
    for (const row of lockedRows!) {
      balances.set(row.id as string, BigInt(row.balance as string));
      kinds.set(row.id as string, row.kind as AccountKind);
    }
    const holds = holdIds.length > 0 ? holdMap(rest.shift()!) : new Map<string, HoldView>();
    const fingerprints = new Map<string, string>();
    for (const row of topUpKeys.length > 0 ? rest.shift()! : []) {
      fingerprints.set(row.idempotency_key as string, row.fingerprint as string);
    }
    return { balances, kinds, holds, fingerprints };
  }

  #knowsAccounts(merchantId: string, currency: string): boolean {
    return ALL_KINDS.every((kind) => this.#accountIds.has(accountKey(merchantId, currency, kind)));
  }

  /** The debit and credit account ids of an operation, or undefined when an account does not exist. */
  #accountsOf(op: LedgerOp, owners: Map<string, Owner>): AccountPlan | undefined {
    const owner = ownerOfOp(op, owners);
    if (!owner) return undefined;
    const { debit, credit } = Movement[op.kind];
    const debitId = this.#accountIds.get(accountKey(owner.merchantId, owner.currency, debit));
    const creditId = this.#accountIds.get(accountKey(owner.merchantId, owner.currency, credit));
    if (!debitId || !creditId) return undefined;
    if (op.kind !== "topup") return { debit: debitId, credit: creditId };
    // A top-up answers with the whole balance, so it reads the merchant's locked account as well.
    const lockedId = this.#accountIds.get(accountKey(owner.merchantId, owner.currency, AccountKind.LOCKED));
    return lockedId ? { debit: debitId, credit: creditId, locked: lockedId } : undefined;
  }

  /** Fills the account-id cache for every merchant and currency the batch touches. */
  async #resolveAccounts(ops: LedgerOp[], owners: Map<string, Owner>): Promise<void> {
    const wanted = new Map<string, Owner>();
    for (const op of ops) {
      const owner = ownerOfOp(op, owners);
      if (!owner) continue;
      if (!this.#knowsAccounts(owner.merchantId, owner.currency))
        wanted.set(`${owner.merchantId}\u0000${owner.currency}`, owner);
    }
    if (wanted.size > 0) await this.#learnAccounts([...new Set([...wanted.values()].map((w) => w.merchantId))]);
  }

  /** Caches the ids of every account of these merchants and of the platform. */
  async #learnAccounts(merchantIds: string[]): Promise<void> {
    const owners = [...new Set([...merchantIds, PLATFORM])];
    const rows = await this.#db.sql.query<{ id: string; merchant_id: string; currency: string; kind: AccountKind }>(
      `select id, merchant_id, currency, kind from accounts where merchant_id in (${placeholders(owners.length)})`,
      owners,
    );
    for (const row of rows) {
      this.#accountIds.set(accountKey(row.merchant_id, row.currency, row.kind), row.id);
      this.#accountKinds.set(row.id, row.kind);
    }
  }

  async #readHolds(sql: Sql, ids: string[]): Promise<Map<string, HoldView>> {
    const [query, params] = holdsQuery([...new Set(ids)]);
    const holds = holdMap(await sql.query(query, params));
    for (const hold of holds.values()) this.#rememberHold(hold);
    return holds;
  }

  #rememberHold({ id, merchantId, currency, amount, createdAt }: HoldView): void {
    this.#knownHolds.set(id, { merchantId, currency, amount, createdAt });
  }

  /** Errors after which the whole batch transaction is simply run again (a racing insert included). */
  #isConflict(err: unknown): boolean {
    return this.#db.isLockConflict(err) || this.#db.isUniqueViolation(err);
  }
}

type Query = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/** Every account an operation's plan names. */
function planAccounts({ debit, credit, locked }: AccountPlan): string[] {
  return locked ? [debit, credit, locked] : [debit, credit];
}

/** What a batch is judged on: balances and kinds of its accounts, its holds, its top-ups' earlier fingerprints. */
interface JudgedState {
  balances: Map<string, bigint>;
  kinds: Map<string, AccountKind>;
  holds: Map<string, HoldView>;
  fingerprints: Map<string, string>;
}

/** `when ? then ?` for each id, with its value. */
function cases(ids: string[], value: (id: string) => SqlValue): { sql: string; params: SqlValue[] } {
  return { sql: ids.map(() => "when ? then ?").join(" "), params: ids.flatMap((id) => [id, value(id)]) };
}

/**
 * The balance and entry-count changes of a batch, over the accounts it moved money on. Guarded (a batch
 * judged from memory): over every account it judged, matching only rows that still hold the balance it
 * was judged on (the guard must match them all), and with `notAfter` (epoch ms) only before then by the
 * server's clock, read once each row's lock is granted.
 */
function balanceWrite(
  accountIds: string[],
  start: Map<string, bigint>,
  end: Map<string, bigint>,
  added: Map<string, number>,
  now: Date,
  guard?: { notAfter: number | undefined },
): Statement {
  const moved = accountIds.filter((id) => added.has(id));
  const ids = guard ? accountIds : moved;
  const delta = cases(ids, (id) => end.get(id)! - start.get(id)!);
  const count = cases(ids, (id) => added.get(id) ?? 0);
  const set = `balance = balance + case id ${delta.sql} end, entry_count = entry_count + case id ${count.sql} end`;
  if (!guard) {
    return [
      `update accounts set ${set}, updated_at = ? where id in (${placeholders(ids.length)})`,
      [...delta.params, ...count.params, now, ...ids],
    ];
  }
  const was = cases(ids, (id) => start.get(id)!);
  const stamp =
    moved.length > 0 ? `, updated_at = case when id in (${placeholders(moved.length)}) then ? else updated_at end` : "";
  const clock = guard.notAfter === undefined ? "" : " and unix_timestamp(sysdate(3)) * 1000 < ?";
  return [
    `update accounts set ${set}${stamp} where id in (${placeholders(ids.length)}) and balance = case id ${was.sql} end${clock}`,
    [
      ...delta.params,
      ...count.params,
      ...(moved.length > 0 ? [...moved, now] : []),
      ...ids,
      ...was.params,
      ...(guard.notAfter === undefined ? [] : [guard.notAfter]),
    ],
  ];
}

/** Accounts proved per statement of the incremental check (one index range each). */
const RANGES_PER_QUERY = 100;
/** Values per row of `invariant_checkpoints`. */
const CHECKPOINT_WIDTH = 5;
const UNBALANCED_TRANSFERS = "transfers not exactly one debit and one equal credit";
/** Over a transfer `t` grouped with its entries `e`: true when they are not one debit and one equal credit. */
const UNBALANCED = `count(e.id) <> 2 or coalesce(sum(e.amount), 0) <> 0
  or sum(case when e.account_id = t.debit_account_id and e.amount = -t.amount then 1 else 0 end) <> 1
  or sum(case when e.account_id = t.credit_account_id and e.amount = t.amount then 1 else 0 end) <> 1`;

/** Up to five rows described, and how many more there are. */
function sample(rows: Record<string, unknown>[], describe: (row: Record<string, unknown>) => string): string {
  return rows.slice(0, 5).map(describe).join("; ") + (rows.length > 5 ? `; … ${rows.length - 5} more` : "");
}

/**
 * `accounts` in chunks of about `size`, each holding every account of its merchants (the rows come
 * ordered by merchant), so the transfers of one hold are all read in one chunk.
 */
function byMerchant(accounts: Record<string, unknown>[], size: number): Record<string, unknown>[][] {
  const chunks: Record<string, unknown>[][] = [];
  let chunk: Record<string, unknown>[] = [];
  for (const account of accounts) {
    if (chunk.length >= size && account.merchant_id !== chunk.at(-1)?.merchant_id) {
      chunks.push(chunk);
      chunk = [];
    }
    chunk.push(account);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Accounts (id, balance, entry_count) and what their entries add up to (entries, n). */
function driftViolation(rows: Record<string, unknown>[]): string {
  return `account balances differ from their entries: ${sample(rows, (r) => `${r.id} balance ${r.balance} entries ${r.entries} (count ${r.entry_count}, entries ${r.n})`)}`;
}

/**
 * The holds of `from` (holds aliased `h`, with any filter) whose transfers do not match their state: one
 * unique-key lookup per hold and transfer kind (a join on computed keys made the server scan every transfer
 * for every hold). Every comparison is guarded against NULL, or a missing transfer would hide the hold.
 */
async function holdViolations(query: Query, from: string, params: unknown[] = []): Promise<string[]> {
  const transferAmount = (kind: string) =>
    `(select t.amount from transfers t where t.idempotency_key = concat('${kind}:', h.id))`;
  const bad = await query(
    `select * from (
       select h.id, h.status, h.amount, ${transferAmount("hold")} as hold_amount,
              ${transferAmount("capture")} as capture_amount, ${transferAmount("release")} as release_amount
         from ${from}) x
      where not (x.hold_amount is not null and x.hold_amount = x.amount and (
              (x.status = ? and x.capture_amount is null and x.release_amount is null)
           or (x.status = ? and x.capture_amount is not null and x.capture_amount = x.amount and x.release_amount is null)
           or (x.status = ? and x.release_amount is not null and x.release_amount = x.amount and x.capture_amount is null)))`,
    [...params, HoldState.PENDING, HoldState.CAPTURED, HoldState.RELEASED],
  );
  if (bad.length === 0) return [];
  return [
    `holds whose transfers do not match their state: ${sample(bad, (r) => `${r.id} ${r.status} ${r.amount} (hold ${r.hold_amount}, capture ${r.capture_amount}, release ${r.release_amount})`)}`,
  ];
}

/** Checks over every account that read no entries: none negative, each locked balance its pending holds. */
async function accountViolations(query: Query): Promise<string[]> {
  const violations: string[] = [];
  const negative = await query("select id, kind, balance from accounts where kind in (?, ?) and balance < 0", [
    AccountKind.AVAILABLE,
    AccountKind.LOCKED,
  ]);
  if (negative.length > 0) {
    violations.push(`merchant accounts below zero: ${sample(negative, (r) => `${r.id} (${r.kind}) ${r.balance}`)}`);
  }
  const lockedMismatch = await query(
    `select a.merchant_id, a.currency, a.balance
       from accounts a
       left join (select merchant_id, currency, sum(amount) as total from holds where status = ?
                   group by merchant_id, currency) p
         on p.merchant_id = a.merchant_id and p.currency = a.currency
      where a.kind = ? and a.balance <> coalesce(p.total, 0)`,
    [HoldState.PENDING, AccountKind.LOCKED],
  );
  if (lockedMismatch.length > 0) {
    violations.push(
      `locked balances differ from pending holds: ${sample(lockedMismatch, (r) => `${r.merchant_id} ${r.currency} locked ${r.balance}`)}`,
    );
  }
  return violations;
}

function holdsQuery(ids: string[]): Statement {
  return [
    `select id, merchant_id, currency, amount, status, created_at, updated_at from holds where id in (${placeholders(ids.length)})`,
    ids,
  ];
}

function holdMap(rows: Row[]): Map<string, HoldView> {
  return new Map(
    rows.map((row) => [
      row.id as string,
      {
        id: row.id as string,
        merchantId: row.merchant_id as string,
        currency: row.currency as string,
        amount: BigInt(row.amount as string),
        status: row.status as HoldState,
        createdAt: sqlDate(row.created_at),
        updatedAt: sqlDate(row.updated_at),
      },
    ]),
  );
}

/** Whose accounts an operation moves money between: named by it, or by the hold it settles. */
function ownerOfOp(op: LedgerOp, owners: Map<string, Owner>): Owner | undefined {
  if (op.kind === "topup" || op.kind === "hold") return { merchantId: op.merchantId, currency: op.currency };
  return owners.get(op.holdId);
}

function failed(error: unknown): Outcome<never> {
  return { ok: false, error };
}

/** The answer to capturing or releasing a hold that is already final. */
function settled(hold: HoldView, target: HoldState): Outcome<HoldView> {
  if (hold.status === target) return { ok: true, value: hold };
  return failed(
    appError(Code.FailedPrecondition, Reason.HOLD_ALREADY_FINAL, `hold ${hold.id} is already ${hold.status}`, {
      metadata: { status: hold.status },
    }),
  );
}

function sameHold(hold: HoldView, merchantId: string, currency: string, amount: bigint): Outcome<HoldView> {
  if (hold.merchantId !== merchantId || hold.currency !== currency || hold.amount !== amount) {
    return failed(
      appError(Code.Aborted, Reason.IDEMPOTENCY_MISMATCH, `hold ${hold.id} exists with other arguments`, {
        field: "holdId",
      }),
    );
  }
  return { ok: true, value: hold };
}

function resultOf(outcome: Outcome<unknown>): OperationResult {
  if (outcome.ok) return "ok";
  const { reason } = errorDetails(outcome.error);
  if (reason === Reason.INSUFFICIENT_FUNDS) return "insufficient_funds";
  if (reason === Reason.HOLD_ALREADY_FINAL) return "already_final";
  if (reason === Reason.IDEMPOTENCY_MISMATCH) return "mismatch";
  return "error";
}
