import { randomUUID } from "node:crypto";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { isValidRequestId, REQUEST_ID_HEADER } from "@mypay/kit";
import type { PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import type { Authenticator } from "./auth.ts";
import { callOptions, type Downstream } from "./downstream.ts";

/**
 * The public PayoutService: authenticates the `x-api-key` metadata, binds the key's merchant and
 * forwards to the payouts service with the caller's deadline (capped) and request id.
 */
export function publicPayoutService(
  down: Downstream,
  auth: Authenticator,
  maxTimeoutMs: number,
): Partial<ServiceImpl<typeof PayoutService>> {
  const bind = async (ctx: HandlerContext) => {
    const merchantId = await auth.merchantFor(ctx.requestHeader.get("x-api-key"));
    const given = ctx.requestHeader.get(REQUEST_ID_HEADER);
    const requestId = isValidRequestId(given) ? given : `req_${randomUUID().replaceAll("-", "")}`;
    ctx.responseHeader.set(REQUEST_ID_HEADER, requestId);
    const timeoutMs = Math.min(ctx.timeoutMs() ?? maxTimeoutMs, maxTimeoutMs);
    return callOptions(merchantId, requestId, timeoutMs);
  };
  return {
    async createPayout(req, ctx) {
      const options = await bind(ctx);
      const key = req.idempotencyKey || ctx.requestHeader.get("idempotency-key") || "";
      return down.payouts.createPayout({ ...req, idempotencyKey: key }, options);
    },
    async getPayout(req, ctx) {
      return down.payouts.getPayout(req, await bind(ctx));
    },
  };
}
