import type { Client } from "@connectrpc/connect";
import { ACTOR_HEADER, MERCHANT_HEADER, REQUEST_ID_HEADER } from "@mypay/kit";
import type { BalanceService, LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import type { NotifierService, WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import type { PayoutAdminService, PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import type { PayoutReader } from "./payout-reads.ts";

/** Clients of the internal services. */
export interface Downstream {
  payouts: Client<typeof PayoutService>;
  /** Single-payout reads, coalesced into batch calls. */
  payoutReads: PayoutReader;
  payoutAdmin: Client<typeof PayoutAdminService>;
  ledger: Client<typeof LedgerService>;
  balance: Client<typeof BalanceService>;
  webhooks: Client<typeof WebhookEndpointService>;
  notifier: Client<typeof NotifierService>;
}

/** Call options binding the caller's merchant and request id, with the caller's remaining deadline. */
export function callOptions(merchantId: string, requestId: string, timeoutMs: number) {
  return { headers: { [MERCHANT_HEADER]: merchantId, [REQUEST_ID_HEADER]: requestId }, timeoutMs };
}

/**
 * Call options for operations staff: no merchant is bound; the actor is the admin key's id (payouts
 * records it as `admin:<id>`, so it is sent without that prefix).
 */
export function adminCallOptions(adminKeyId: string, requestId: string, timeoutMs: number) {
  return { headers: { [ACTOR_HEADER]: adminKeyId, [REQUEST_ID_HEADER]: requestId }, timeoutMs };
}
