import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { orderedId, payoutView } from "@mypay/kit";
import { DestinationType, type Payout, PayoutSchema, PayoutStatus } from "@mypay/proto/mypay/payouts/v1/payouts";
import type { Status } from "./domain/status.ts";

/** The stored columns of a payout, as the store reads and writes them. */
export interface PayoutRow {
  id: string;
  merchantId: string;
  idempotencyKey: string;
  fingerprint: string;
  merchantReference: string;
  currency: string;
  amount: bigint;
  status: Status;
  destType: string;
  bankCode: string;
  accountNumber: string;
  accountTitle: string;
  pspReference: string | null;
  failureCode: string | null;
  failureMessage: string | null;
  attempts: number;
  nextAttemptAt: Date;
  createdAt: Date;
  updatedAt: Date;
  processedAt: Date | null;
}

export function toPayoutMessage(row: PayoutRow): Payout {
  return create(PayoutSchema, {
    id: row.id,
    merchantId: row.merchantId,
    merchantReference: row.merchantReference,
    amount: { currency: row.currency, minorUnits: row.amount },
    status: PayoutStatus[row.status],
    destType: DestinationType.BANK,
    bankCode: row.bankCode,
    accountNumber: row.accountNumber,
    accountTitle: row.accountTitle,
    pspReference: row.pspReference ?? "",
    failureCode: row.failureCode ?? "",
    failureMessage: row.failureMessage ?? "",
    attempts: row.attempts,
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
    ...(row.processedAt ? { processedAt: timestampFromDate(row.processedAt) } : {}),
    ...(row.status === "PENDING" || row.status === "RETRY"
      ? { nextAttemptAt: timestampFromDate(row.nextAttemptAt) }
      : {}),
  });
}

export const PAYOUT_UPDATED = "payout.updated";

/** A `payout.updated` event: the seed's flat fields plus the typed form (`type`, `id`, `data`). */
export function payoutUpdatedEvent(row: PayoutRow): { id: string; body: string } {
  const id = `evt_${orderedId()}`;
  const body = JSON.stringify({
    id,
    type: PAYOUT_UPDATED,
    event: PAYOUT_UPDATED,
    payoutId: row.id,
    status: row.status,
    pspReference: row.pspReference,
    timestamp: row.updatedAt.toISOString(),
    data: payoutView(toPayoutMessage(row)),
  });
  return { id, body };
}
