import { defineEntity, p } from "@mikro-orm/core";

export const Payout = defineEntity({
  name: "Payout",
  tableName: "payouts",
  properties: {
    id: p.string().length(32).primary(),
    merchantId: p.string().length(64),
    idempotencyKey: p.string().length(255),
    /** Hash of the create request, to reject a reused key with another body. */
    fingerprint: p.string().length(64),
    merchantReference: p.string().length(64),
    currency: p.string().length(3),
    amount: p.bigint("bigint"),
    status: p.string().length(16),
    destType: p.string().length(16),
    bankCode: p.string().length(16),
    accountNumber: p.string().length(34),
    accountTitle: p.string().length(128),
    pspReference: p.string().length(64).nullable(),
    failureCode: p.string().length(64).nullable(),
    failureMessage: p.string().length(255).nullable(),
    attempts: p.integer(),
    /** When the processor may next pick the payout up (PENDING/RETRY). */
    nextAttemptAt: p.datetime().length(3),
    /** The claim that owns a PROCESSING payout, and until when; an expired lease is claimed again. */
    leaseId: p.string().length(36).nullable(),
    leaseUntil: p.datetime().length(3).nullable(),
    createdAt: p.datetime().length(3),
    updatedAt: p.datetime().length(3),
    processedAt: p.datetime().length(3).nullable(),
  },
  // No unique (merchant, key) here: the key's request record is the one place a key is made unique, by
  // digest (see PayoutRequest); a second index of merchants' random keys would only slow every insert.
  indexes: [{ properties: ["status", "nextAttemptAt"] }, { properties: ["merchantId", "createdAt"] }],
});

/** Audit trail: one row per status change, never updated. */
export const PayoutTransition = defineEntity({
  name: "PayoutTransition",
  tableName: "payout_transitions",
  properties: {
    id: p.bigint("number").primary().autoincrement(),
    payoutId: p.string().length(32).index(),
    fromStatus: p.string().length(16).nullable(),
    toStatus: p.string().length(16),
    reason: p.string().length(255).nullable(),
    actor: p.string().length(64),
    at: p.datetime().length(3),
  },
});

/**
 * Transactional outbox: written in the same transaction as the status change it follows from,
 * relayed at least once (ledger calls keyed by payout id, events keyed by event id), and deleted once
 * relayed. A message is claimable when `nextAttemptAt` has passed: the writing process leases new
 * messages to itself by setting it ahead, a claim sets it ahead by its lease, a failure to the retry time.
 */
export const OutboxMessage = defineEntity({
  name: "OutboxMessage",
  tableName: "outbox",
  properties: {
    id: p.string().length(40).primary(),
    payoutId: p.string().length(32),
    /** `capture` or `release` (ledger), or `event` (notifier). */
    kind: p.string().length(16),
    merchantId: p.string().length(64),
    /** The webhook body, for events. */
    payload: p.text().nullable(),
    attempts: p.integer(),
    nextAttemptAt: p.datetime().length(3),
    lastError: p.string().length(255).nullable(),
    createdAt: p.datetime().length(3),
  },
  indexes: [{ properties: ["nextAttemptAt"] }],
});

/**
 * One row per (merchant, idempotency key), written BEFORE the ledger hold is asked for: it is the
 * "hold requested" intent the reconciler uses to find holds without a payout, the in-flight marker
 * (IDEMPOTENCY_IN_PROGRESS) and the stored outcome that a replay answers with (a payout or an error).
 * The primary key is the payout id its first request drew (time-ordered), which is also the ledger hold
 * id. `keyDigest` finds the record of a merchant's key: keys are told apart byte for byte, even where the
 * column's collation would ignore case.
 */
export const PayoutRequest = defineEntity({
  name: "PayoutRequest",
  tableName: "payout_requests",
  properties: {
    payoutId: p.string().length(32).primary(),
    merchantId: p.string().length(64),
    idempotencyKey: p.string().length(255),
    /** Digest of merchant and key (see `keyDigest`): unique, so one key has one record. */
    keyDigest: p.string().length(32).unique(),
    fingerprint: p.string().length(64),
    /** `in_progress`, `done` (the payout exists), `failed` (a stored error) or `abandoned` (hold released). */
    state: p.string().length(16),
    /** Random token of the request that owns the key now (a takeover after a crash changes it). */
    owner: p.string().length(36),
    /** Until when the request in flight owns the key; past it a retry may take over. */
    lockedUntil: p.datetime().length(3),
    /** The stored error of a failed create: Connect code number, reason, message and field. */
    errorCode: p.integer().nullable(),
    errorReason: p.string().length(64).nullable(),
    errorMessage: p.string().length(255).nullable(),
    errorField: p.string().length(64).nullable(),
    createdAt: p.datetime().length(3),
    updatedAt: p.datetime().length(3),
    /** A failed or abandoned outcome is forgotten after this time; the key may then be used again. */
    expiresAt: p.datetime().length(3),
  },
  indexes: [{ properties: ["state", "createdAt"] }, { properties: ["expiresAt"] }],
});

export const entities = [Payout, PayoutTransition, OutboxMessage, PayoutRequest];
