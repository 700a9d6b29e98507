import { orderedId } from "@mypay/kit";

/**
 * A new payout id, `po_` and 28 hex digits that sort by creation time. The first request of an
 * idempotency key draws it and stores it in the key's request record; retries read it back from there.
 */
export function newPayoutId(): string {
  return `po_${orderedId()}`;
}
