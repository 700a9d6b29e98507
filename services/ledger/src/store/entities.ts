import { defineEntity, p } from "@mikro-orm/core";

/** One balance of one owner: a merchant's available/locked funds, or a platform account. */
export const Account = defineEntity({
  name: "Account",
  tableName: "accounts",
  properties: {
    id: p.string().length(36).primary(),
    /** Empty for platform accounts. */
    merchantId: p.string().length(64),
    currency: p.string().length(3),
    kind: p.string().length(16),
    /** Sum of this account's entries, kept in step inside every transfer's transaction. */
    balance: p.bigint("bigint"),
    /**
     * How many entries this account has, kept in step with the balance: the incremental invariant check
     * reads it to find the accounts that changed since their checkpoint.
     */
    entryCount: p.bigint("bigint").defaultRaw("0"),
    updatedAt: p.datetime().length(3),
  },
  uniques: [{ properties: ["merchantId", "currency", "kind"] }],
});

/** One balanced movement between two accounts, keyed by the caller's idempotency key. */
export const Transfer = defineEntity({
  name: "Transfer",
  tableName: "transfers",
  properties: {
    id: p.string().length(36).primary(),
    idempotencyKey: p.string().length(200).unique(),
    kind: p.string().length(16),
    debitAccountId: p.string().length(36),
    creditAccountId: p.string().length(36),
    amount: p.bigint("bigint"),
    /** What the caller asked for, to reject a reused key with other arguments. */
    fingerprint: p.string().length(200),
    createdAt: p.datetime().length(3),
  },
});

/** Append-only: never updated or deleted. Debits are negative, credits positive. */
export const Entry = defineEntity({
  name: "Entry",
  tableName: "entries",
  properties: {
    id: p.bigint("bigint").primary().autoincrement(),
    transferId: p.string().length(36).index(),
    accountId: p.string().length(36).index(),
    amount: p.bigint("bigint"),
    createdAt: p.datetime().length(3),
  },
});

/** Funds locked for one payout; captured or released exactly once. */
export const Hold = defineEntity({
  name: "Hold",
  tableName: "holds",
  properties: {
    id: p.string().length(64).primary(),
    merchantId: p.string().length(64),
    currency: p.string().length(3),
    amount: p.bigint("bigint"),
    status: p.string().length(16),
    createdAt: p.datetime().length(3),
    updatedAt: p.datetime().length(3),
  },
  /** Outstanding holds (count and sum of PENDING) are read on every metrics scrape. */
  indexes: [{ properties: ["status"] }],
});

/**
 * The last state at which the incremental invariant check proved an account against its entries. Written
 * only by that check, and only after a check that found nothing wrong.
 */
export const Checkpoint = defineEntity({
  name: "Checkpoint",
  tableName: "invariant_checkpoints",
  properties: {
    accountId: p.string().length(36).primary(),
    balance: p.bigint("bigint"),
    entryCount: p.bigint("bigint"),
    /** The account's newest entry at that state (0 when it had none): every later entry has a higher id. */
    lastEntryId: p.bigint("bigint"),
    checkedAt: p.datetime().length(3),
  },
});

export const entities = [Account, Transfer, Entry, Hold, Checkpoint];
