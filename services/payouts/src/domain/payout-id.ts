import { createHash } from "node:crypto";

/**
 * The payout id is derived from merchant and idempotency key, so a retried create (even after a
 * crash between the ledger hold and the insert) converges on the same id and the same hold.
 */
export function payoutIdFor(merchantId: string, idempotencyKey: string): string {
  const digest = createHash("sha256").update(`${merchantId}\u0000${idempotencyKey}`).digest("base64url");
  return `po_${digest.slice(0, 24)}`;
}
