import type { Client } from "@connectrpc/connect";
import { MERCHANT_HEADER, REQUEST_ID_HEADER } from "@mypay/kit";
import type { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import type { WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import type { PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";

/** Clients of the internal services. */
export interface Downstream {
  payouts: Client<typeof PayoutService>;
  ledger: Client<typeof LedgerService>;
  webhooks: Client<typeof WebhookEndpointService>;
}

/** Call options binding the caller's merchant and request id, with the caller's remaining deadline. */
export function callOptions(merchantId: string, requestId: string, timeoutMs: number) {
  return { headers: { [MERCHANT_HEADER]: merchantId, [REQUEST_ID_HEADER]: requestId }, timeoutMs };
}
