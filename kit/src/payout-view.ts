import {
  DestinationTypeSchema,
  type Payout,
  type PayoutStatus,
  PayoutStatusSchema,
} from "@mypay/proto/mypay/payouts/v1/payouts";
import { isoTime } from "./iso-time.ts";
import { formatAmount } from "./money.ts";

/** A payout as merchants see it in REST responses and webhook `data`: camelCase, decimal-string amounts. */
export interface PayoutView {
  id: string;
  status: string;
  amount: string;
  currency: string;
  merchantReference: string;
  destType: string;
  bankCode: string;
  accountNumber: string;
  accountTitle: string;
  pspReference: string | null;
  failureCode: string | null;
  failureMessage: string | null;
  attempts: number;
  createdAt: string | null;
  updatedAt: string | null;
  processedAt: string | null;
  /** When the processor will next try (PENDING/RETRY), else null. */
  nextAttemptAt: string | null;
}

/** "PAYOUT_STATUS_SUCCESS" → "SUCCESS": the seed's status names. */
export function payoutStatusName(status: PayoutStatus): string {
  return PayoutStatusSchema.value[status]?.localName ?? "UNSPECIFIED";
}

export function payoutView(payout: Payout): PayoutView {
  const currency = payout.amount?.currency ?? "";
  return {
    id: payout.id,
    status: payoutStatusName(payout.status),
    amount: formatAmount(payout.amount?.minorUnits ?? 0n, currency),
    currency,
    merchantReference: payout.merchantReference,
    destType: DestinationTypeSchema.value[payout.destType]?.localName ?? "UNSPECIFIED",
    bankCode: payout.bankCode,
    accountNumber: payout.accountNumber,
    accountTitle: payout.accountTitle,
    pspReference: payout.pspReference || null,
    failureCode: payout.failureCode || null,
    failureMessage: payout.failureMessage || null,
    attempts: payout.attempts,
    createdAt: isoTime(payout.createdAt),
    updatedAt: isoTime(payout.updatedAt),
    processedAt: isoTime(payout.processedAt),
    nextAttemptAt: isoTime(payout.nextAttemptAt),
  };
}
