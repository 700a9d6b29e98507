import type { Payout, PayoutStatus } from "./types.ts";

/**
 * The body of a `payout.updated` webhook: sent on every status change. The top-level fields are the
 * legacy flat form; `data` is the full payout as the API returns it.
 */
export interface PayoutUpdatedEvent {
  /** Event id (`evt_…`), unique per status change. Deduplicate on the `webhook-id` header. */
  id: string;
  type: "payout.updated";
  /** Same as `type`; kept for receivers written against the legacy payload. */
  event: "payout.updated";
  payoutId: string;
  status: PayoutStatus;
  pspReference: string | null;
  /** When the change happened, ISO-8601. */
  timestamp: string;
  data: Payout;
}

/** Every webhook event type MyPay sends. */
export type WebhookEvent = PayoutUpdatedEvent;

/** Narrows a verified event to `payout.updated`. */
export function isPayoutUpdatedEvent(event: unknown): event is PayoutUpdatedEvent {
  const e = event as Partial<PayoutUpdatedEvent> | null;
  return typeof e === "object" && e !== null && e.type === "payout.updated" && typeof e.data === "object";
}
