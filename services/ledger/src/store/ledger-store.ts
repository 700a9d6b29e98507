import { randomUUID } from "node:crypto";
import { raw } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/sql";
import { appError, Code, type Database, notFound, Reason } from "@mypay/kit";
import { AccountKind, HoldState, Movement, type MovementKind, ownerOf } from "../domain/accounts.ts";
import { Account, Entry, Hold, Transfer } from "./entities.ts";

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

const MERCHANT_KINDS = [AccountKind.AVAILABLE, AccountKind.LOCKED];

/**
 * The order in which a transfer locks its two account rows: the merchant's available, then its
 * locked, then a platform account (each transfer touches at most one). Any fixed order prevents
 * lock-order deadlocks; this one puts the guarded debit first for holds and captures, the only
 * transfers that may legitimately lack funds.
 */
const LOCK_RANK: Record<AccountKind, number> = {
  [AccountKind.AVAILABLE]: 0,
  [AccountKind.LOCKED]: 1,
  [AccountKind.FUNDING]: 2,
  [AccountKind.SETTLEMENT]: 2,
};

/** Double-entry storage: every method runs in one transaction and either applies fully or not at all. */
export class LedgerStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Creates the merchant's and the platform's accounts for a currency if they do not exist. */
  async openAccounts(merchantId: string, currency: string): Promise<void> {
    const now = new Date();
    const rows = [...MERCHANT_KINDS, AccountKind.FUNDING, AccountKind.SETTLEMENT].map((kind) => ({
      id: randomUUID(),
      merchantId: ownerOf(kind, merchantId),
      currency,
      kind,
      balance: 0n,
      updatedAt: now,
    }));
    await this.#db
      .em()
      .createQueryBuilder(Account)
      .insert(rows)
      .onConflict(["merchantId", "currency", "kind"])
      .ignore()
      .execute();
  }

  /** funding → available. Idempotent on `key`; the same key with other arguments is rejected. */
  async topUp(merchantId: string, currency: string, amount: bigint, idempotencyKey: string): Promise<BalanceView> {
    await this.openAccounts(merchantId, currency);
    // Namespaced, so a caller's key can never collide with the hold/capture/release keys.
    const key = `topup:${idempotencyKey}`;
    const fingerprint = `topup:${merchantId}:${currency}:${amount}`;
    await this.#once(key, fingerprint, (em) => this.#move(em, "topup", merchantId, currency, amount, key, fingerprint));
    return this.balance(merchantId, currency);
  }

  /** available → locked under `holdId`. INSUFFICIENT_FUNDS leaves nothing behind. */
  async hold(merchantId: string, holdId: string, currency: string, amount: bigint): Promise<HoldView> {
    const existing = await this.getHold(holdId);
    if (existing) return sameHold(existing, merchantId, currency, amount);
    const key = `hold:${holdId}`;
    const fingerprint = `hold:${merchantId}:${currency}:${amount}`;
    try {
      await this.#db.em().transactional(async (em) => {
        const moved = await this.#move(em, "hold", merchantId, currency, amount, key, fingerprint);
        if (!moved) {
          const accounts = await em.count(Account, { merchantId, currency });
          if (accounts === 0) throw notFound(`merchant ${merchantId} account in ${currency}`);
          throw appError(Code.FailedPrecondition, Reason.INSUFFICIENT_FUNDS, "insufficient available balance", {
            field: "amount",
          });
        }
        const now = new Date();
        await em
          .createQueryBuilder(Hold)
          .insert({
            id: holdId,
            merchantId,
            currency,
            amount,
            status: HoldState.PENDING,
            createdAt: now,
            updatedAt: now,
          })
          .execute();
      });
    } catch (err) {
      if (!this.#db.isUniqueViolation(err)) throw err;
      // A concurrent call with the same hold id won; answer with its result.
      const winner = await this.getHold(holdId);
      if (!winner) throw err;
      return sameHold(winner, merchantId, currency, amount);
    }
    return (await this.getHold(holdId))!;
  }

  /** locked → settlement, once. Repeating returns the captured hold; a released hold fails HOLD_ALREADY_FINAL. */
  capture(holdId: string): Promise<HoldView> {
    return this.#finish(holdId, HoldState.CAPTURED, "capture");
  }

  /** locked → available, once. Repeating returns the released hold; a captured hold fails HOLD_ALREADY_FINAL. */
  release(holdId: string): Promise<HoldView> {
    return this.#finish(holdId, HoldState.RELEASED, "release");
  }

  async getHold(holdId: string): Promise<HoldView | undefined> {
    const row = await this.#db.em().findOne(Hold, { id: holdId });
    if (!row) return undefined;
    return { ...row, amount: BigInt(row.amount), status: row.status as HoldState };
  }

  async balance(merchantId: string, currency: string): Promise<BalanceView> {
    const rows = await this.#db.em().find(Account, { merchantId, currency, kind: { $in: MERCHANT_KINDS } });
    if (rows.length === 0) throw notFound(`merchant ${merchantId} account in ${currency}`);
    const of = (kind: string) => BigInt(rows.find((r) => r.kind === kind)?.balance ?? 0n);
    return { merchantId, currency, available: of(AccountKind.AVAILABLE), locked: of(AccountKind.LOCKED) };
  }

  async #finish(holdId: string, target: HoldState, kind: "capture" | "release"): Promise<HoldView> {
    const hold = await this.getHold(holdId);
    if (!hold) throw notFound(`hold ${holdId}`);
    if (hold.status === HoldState.PENDING) {
      await this.#db.em().transactional(async (em) => {
        const claimed = await em.nativeUpdate(
          Hold,
          { id: holdId, status: HoldState.PENDING },
          { status: target, updatedAt: new Date() },
        );
        if (claimed !== 1) return; // a concurrent capture/release won; judged below
        const key = `${kind}:${holdId}`;
        const moved = await this.#move(em, kind, hold.merchantId, hold.currency, hold.amount, key, key);
        if (!moved) throw new Error(`ledger invariant broken: locked balance below pending hold ${holdId}`);
      });
    }
    const after = (await this.getHold(holdId))!;
    if (after.status !== target) {
      throw appError(Code.FailedPrecondition, Reason.HOLD_ALREADY_FINAL, `hold ${holdId} is already ${after.status}`, {
        metadata: { status: after.status },
      });
    }
    return after;
  }

  /** Runs a keyed operation once; a repeated key returns silently, a reused key with other arguments fails. */
  async #once(key: string, fingerprint: string, apply: (em: EntityManager) => Promise<boolean>): Promise<void> {
    const check = async () => {
      const prior = await this.#db.em().findOne(Transfer, { idempotencyKey: key });
      if (prior && prior.fingerprint !== fingerprint) {
        throw appError(
          Code.Aborted,
          Reason.IDEMPOTENCY_MISMATCH,
          `idempotency key ${key} was used with other arguments`,
          {
            field: "idempotencyKey",
          },
        );
      }
      return prior !== null;
    };
    if (await check()) return;
    try {
      await this.#db.em().transactional(async (em) => {
        if (!(await apply(em))) throw new Error(`ledger transfer ${key} could not be applied`);
      });
    } catch (err) {
      if (!this.#db.isUniqueViolation(err) || !(await check())) throw err;
    }
  }

  /**
   * Moves `amount` between the two accounts of `kind` and writes the transfer and its two entries.
   * Returns false (writing nothing) when the debited merchant account lacks the funds.
   */
  async #move(
    em: EntityManager,
    kind: MovementKind,
    merchantId: string,
    currency: string,
    amount: bigint,
    key: string,
    fingerprint: string,
  ): Promise<boolean> {
    const { debit, credit } = Movement[kind];
    const accounts = await em.find(Account, {
      currency,
      $or: [
        { merchantId: ownerOf(debit, merchantId), kind: debit },
        { merchantId: ownerOf(credit, merchantId), kind: credit },
      ],
    });
    const debitAccount = accounts.find((a) => a.kind === debit);
    const creditAccount = accounts.find((a) => a.kind === credit);
    if (!debitAccount || !creditAccount) return false;
    const now = new Date();
    // Merchant accounts never go negative: the debit is conditional on the balance covering it.
    const guard = debit === AccountKind.FUNDING ? {} : { balance: { $gte: amount } };
    const debitRow = () =>
      em.nativeUpdate(
        Account,
        { id: debitAccount.id, ...guard },
        { balance: raw("balance - ?", [amount]), updatedAt: now },
      );
    const creditRow = () =>
      em.nativeUpdate(Account, { id: creditAccount.id }, { balance: raw("balance + ?", [amount]), updatedAt: now });
    // Rows are locked in one global order (LOCK_RANK), so a hold (available → locked) and a release
    // (locked → available) of one merchant cannot deadlock each other.
    if (LOCK_RANK[debit] < LOCK_RANK[credit]) {
      if ((await debitRow()) !== 1) return false;
      await creditRow();
    } else {
      // Top-ups (funding is never guarded) and releases (locked covers every pending hold): the debit cannot fail.
      await creditRow();
      if ((await debitRow()) !== 1) throw new Error(`ledger invariant broken: ${debit} account cannot cover ${key}`);
    }
    const transferId = randomUUID();
    await em
      .createQueryBuilder(Transfer)
      .insert({
        id: transferId,
        idempotencyKey: key,
        kind,
        debitAccountId: debitAccount.id,
        creditAccountId: creditAccount.id,
        amount,
        fingerprint,
        createdAt: now,
      })
      .execute();
    await em
      .createQueryBuilder(Entry)
      .insert([
        { transferId, accountId: debitAccount.id, amount: -amount, createdAt: now },
        { transferId, accountId: creditAccount.id, amount, createdAt: now },
      ])
      .execute();
    return true;
  }
}

function sameHold(hold: HoldView, merchantId: string, currency: string, amount: bigint): HoldView {
  if (hold.merchantId !== merchantId || hold.currency !== currency || hold.amount !== amount) {
    throw appError(Code.Aborted, Reason.IDEMPOTENCY_MISMATCH, `hold ${hold.id} exists with other arguments`, {
      field: "holdId",
    });
  }
  return hold;
}
