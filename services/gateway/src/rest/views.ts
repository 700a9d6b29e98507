import { formatAmount, isoTime, payoutStatusName } from "@mypay/kit";
import { AccountKindSchema, type Balance, type Entry } from "@mypay/proto/mypay/ledger/v1/ledger";
import {
  type Attempt,
  type Endpoint,
  type Message,
  MessageStatusSchema,
} from "@mypay/proto/mypay/notifier/v1/notifier";
import type { PayoutTransition } from "@mypay/proto/mypay/payouts/v1/payouts";

/** REST views of internal messages: camelCase, decimal-string amounts, RFC 3339 times, seed status names. */

export function balanceView(b: Balance | undefined, currency: string) {
  return {
    currency,
    balance: formatAmount(b?.balanceMinor ?? 0n, currency),
    locked: formatAmount(b?.lockedMinor ?? 0n, currency),
    available: formatAmount(b?.availableMinor ?? 0n, currency),
  };
}

export function entryView(e: Entry) {
  return {
    id: e.id,
    transferId: e.transferId,
    account: AccountKindSchema.value[e.account]?.localName ?? "UNSPECIFIED",
    currency: e.currency,
    amount: formatAmount(e.amountMinor, e.currency),
    transferKind: e.transferKind,
    holdId: e.holdId || null,
    createdAt: isoTime(e.createdAt),
  };
}

export function transitionView(t: PayoutTransition) {
  return {
    from: payoutStatusName(t.from),
    to: payoutStatusName(t.to),
    reason: t.reason,
    actor: t.actor,
    at: isoTime(t.at),
  };
}

export function endpointView(ep: Endpoint | undefined) {
  return {
    id: ep?.id ?? "",
    url: ep?.url ?? "",
    description: ep?.description ?? "",
    eventTypes: ep?.eventTypes ?? [],
    enabled: ep?.enabled ?? false,
    disabledReason: ep?.disabledReason || null,
    createdAt: isoTime(ep?.createdAt),
    updatedAt: isoTime(ep?.updatedAt),
  };
}

export function messageView(m: Message | undefined) {
  return {
    id: m?.id ?? "",
    endpointId: m?.endpointId ?? "",
    eventId: m?.eventId ?? "",
    eventType: m?.eventType ?? "",
    subjectId: m?.subjectId || null,
    status: MessageStatusSchema.value[m?.status ?? 0]?.localName ?? "UNSPECIFIED",
    attempts: m?.attempts ?? 0,
    nextAttemptAt: isoTime(m?.nextAttemptAt),
    createdAt: isoTime(m?.createdAt),
    deliveredAt: isoTime(m?.deliveredAt),
  };
}

export function attemptView(a: Attempt) {
  return {
    id: a.id,
    messageId: a.messageId,
    attemptedAt: isoTime(a.attemptedAt),
    result: a.result,
    statusCode: a.statusCode,
    latencyMs: a.latencyMs,
    error: a.error || null,
    responseExcerpt: a.responseExcerpt || null,
  };
}
