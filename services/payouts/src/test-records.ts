/** Test support (not shipped behaviour): rows as the payouts store takes them. */
import { randomUUID } from "node:crypto";
import { newPayoutId } from "./domain/payout-id.ts";
import type { PayoutRow } from "./payout-message.ts";
import type { RequestRecord } from "./store/payout-store.ts";

/** The request record of a create in flight (its key locked for 30 s), with `overrides`. */
export function requestRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  const now = new Date();
  return {
    payoutId: newPayoutId(),
    merchantId: "m_test",
    idempotencyKey: `key-${randomUUID()}`,
    fingerprint: "fp",
    state: "in_progress",
    owner: randomUUID(),
    lockedUntil: new Date(now.getTime() + 30_000),
    errorCode: null,
    errorReason: null,
    errorMessage: null,
    errorField: null,
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + 86_400_000),
    ...overrides,
  };
}

/** A payout as the create path stores it (PENDING, due now), with `overrides`. */
export function payoutRow(overrides: Partial<PayoutRow> = {}): PayoutRow {
  const now = new Date();
  return {
    id: `po_${randomUUID().replaceAll("-", "").slice(0, 24)}`,
    merchantId: "m_test",
    idempotencyKey: `key-${randomUUID()}`,
    fingerprint: "fp",
    merchantReference: "INV-1",
    currency: "PKR",
    amount: 100_050n,
    status: "PENDING",
    destType: "BANK",
    bankCode: "HBL",
    accountNumber: "1234560001",
    accountTitle: "Ali Khan",
    pspReference: null,
    failureCode: null,
    failureMessage: null,
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
    updatedAt: now,
    processedAt: null,
    ...overrides,
  };
}
