/**
 * The shapes merchants see, identical over every transport and in webhook `data`: camelCase fields,
 * amounts as decimal strings with the currency's exact decimals, times as ISO-8601 strings.
 */

/** Where a payout is in its lifecycle. `SUCCESS`, `FAILED` and `CANCELLED` are final. */
export type PayoutStatus =
  | "PENDING"
  | "PROCESSING"
  | "SUCCESS"
  | "FAILED"
  | "RETRY"
  | "ON_HOLD"
  | "IN_REVIEW"
  | "CANCELLED";

/** Every payout status, in lifecycle order. */
export const PAYOUT_STATUSES: readonly PayoutStatus[] = [
  "PENDING",
  "PROCESSING",
  "SUCCESS",
  "FAILED",
  "RETRY",
  "ON_HOLD",
  "IN_REVIEW",
  "CANCELLED",
];

/** A payout: a bank transfer out of the merchant's balance. */
export interface Payout {
  id: string;
  status: PayoutStatus;
  /** Decimal string with the currency's decimals, e.g. `"1000.00"`. */
  amount: string;
  currency: string;
  merchantReference: string;
  destType: "BANK" | string;
  bankCode: string;
  accountNumber: string;
  accountTitle: string;
  /** The bank's reference, once paid. */
  pspReference: string | null;
  failureCode: string | null;
  failureMessage: string | null;
  /** Bank attempts so far. */
  attempts: number;
  createdAt: string | null;
  updatedAt: string | null;
  processedAt: string | null;
}

/** What `payouts.create` needs. The merchant is the API key's; it is never a parameter. */
export interface CreatePayoutParams {
  /** Decimal string, e.g. `"1000.00"` (numbers are refused: floats never carry money). */
  amount: string;
  /** ISO-4217 code, e.g. `"PKR"`. */
  currency: string;
  /** Your own reference (order id); shown in webhooks and lists. */
  merchantReference: string;
  /** Destination type; only `"BANK"` today (the default). */
  destType?: "BANK";
  bankCode: string;
  accountNumber: string;
  accountTitle: string;
}

/** Filters and paging for `payouts.list`. */
export interface ListPayoutsParams {
  /** One status or several; all when omitted. */
  status?: PayoutStatus | PayoutStatus[];
  /** Page size, 1–100 (default 20). */
  limit?: number;
  /** Start after this payout id (the last of a previous page). */
  startingAfter?: string;
  createdAfter?: Date | string;
  createdBefore?: Date | string;
}

/** One recorded status change of a payout (the audit trail). */
export interface PayoutTransition {
  from: PayoutStatus | null;
  to: PayoutStatus;
  reason: string;
  /** `merchant:<id>`, `admin:<id>` or `system:processor`. */
  actor: string;
  at: string | null;
}

/** A merchant's balance in one currency; `balance` = `available` + `locked`. */
export interface Balance {
  currency: string;
  balance: string;
  locked: string;
  available: string;
}

/** One side of a ledger transfer on the merchant's accounts. Debits are negative. */
export interface LedgerEntry {
  id: string;
  transferId: string;
  account: "AVAILABLE" | "LOCKED" | string;
  currency: string;
  /** Signed decimal string, e.g. `"-1000.00"`. */
  amount: string;
  /** `topup`, `hold`, `capture` or `release`. */
  transferKind: string;
  /** The payout id for hold/capture/release transfers. */
  holdId: string;
  createdAt: string | null;
}

/** Filters and paging for `balance.entries`. */
export interface ListEntriesParams {
  account?: "AVAILABLE" | "LOCKED";
  currency?: string;
  limit?: number;
  startingAfter?: string;
}

/** Where MyPay delivers webhooks. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  /** Event types delivered; empty means all. */
  eventTypes: string[];
  enabled: boolean;
  /** Why the platform disabled it, if it did. */
  disabledReason: string | null;
  createdAt: string | null;
  updatedAt: string | null;
}

/** An endpoint together with its signing secret (`whsec_…`), returned only on create and rotation. */
export interface WebhookEndpointWithSecret extends WebhookEndpoint {
  secret: string;
  /** After a rotation: until when the previous secret keeps signing. */
  previousSecretExpiresAt?: string | null;
}

export interface CreateWebhookEndpointParams {
  /** An https URL (loopback http is allowed in the sandbox). */
  url: string;
  description?: string;
  /** Event types to deliver, e.g. `["payout.updated"]`; all when omitted. */
  eventTypes?: string[];
}

/** Fields to change; omitted ones stay as they are. */
export interface UpdateWebhookEndpointParams {
  url?: string;
  description?: string;
  eventTypes?: string[];
  enabled?: boolean;
}

/** Delivery state of one event to one endpoint. */
export type WebhookMessageStatus = "PENDING" | "DELIVERED" | "DEAD";

/** One event addressed to one endpoint; its id is the `webhook-id` header, stable across retries and replays. */
export interface WebhookMessage {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  /** Id of the object the event is about: the payout id for `payout.updated`; null when none. */
  subjectId: string | null;
  status: WebhookMessageStatus;
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string | null;
  deliveredAt: string | null;
}

/** One delivery attempt of a message. */
export interface WebhookAttempt {
  id: string;
  messageId: string;
  attemptedAt: string | null;
  /** `delivered`, `http_error`, `timeout`, `network_error` or `refused`. */
  result: string;
  /** 0 when no response arrived. */
  statusCode: number;
  latencyMs: number;
  error: string | null;
  /** The first 1 KiB of the response body. */
  responseExcerpt: string | null;
}

export interface ListMessagesParams {
  endpointId?: string;
  status?: WebhookMessageStatus;
  /** Only the messages of this payout's `payout.updated` events. */
  payoutId?: string;
  limit?: number;
  startingAfter?: string;
}

/** Per-call options accepted by every resource method. */
export interface RequestOptions {
  /** Overrides the client's `timeoutMs` for this call (each attempt). */
  timeoutMs?: number;
  /** Overrides the client's `maxRetries` for this call. */
  maxRetries?: number;
  /** Aborts the call (and its retries). */
  signal?: AbortSignal;
}

/** Options of calls that create something: the idempotency key makes retries safe. */
export interface IdempotentRequestOptions extends RequestOptions {
  /** Sent as the request's idempotency key; generated when omitted and reused across the SDK's retries. */
  idempotencyKey?: string;
}

/** One page of a list. */
export interface Page<T> {
  data: T[];
  hasMore: boolean;
}
