import type { DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { appError, Code, isValidRequestId, REQUEST_ID_HEADER, randomRequestId } from "@mypay/kit";
import type { Authenticator } from "./auth.ts";
import { callOptions } from "./downstream.ts";
import { type Bucket, type RateLimiter, rateLimitHeaders } from "./rate-limit.ts";

export interface PublicRpcOptions {
  auth: Authenticator;
  limiter: RateLimiter;
  /** Cap on the client's own deadline, and the deadline when the client sets none. */
  maxTimeoutMs: number;
  /** Counts refusals (gateway_rate_limited_total). */
  onRateLimited(bucket: Bucket): void;
}

/** Methods that only read: they spend the read budget; every other method spends the write budget. */
const READ_METHOD = /^(Get|List)/;

/**
 * A public service that forwards every unary method to the internal service of the same name, after
 * authenticating the `x-api-key` metadata and spending the merchant's rate budget. The merchant is
 * bound from the key in the `mypay-merchant-id` header, never taken from the request, so a client can
 * never name another merchant. The client's deadline is passed on, capped; the request id is echoed.
 */
export function publicProxy<S extends DescService>(
  service: S,
  // Client<S> indexed by a method's localName is not expressible for a generic S; each entry is a
  // unary call `(request, options) => Promise<response>` by construction of connect's createClient.
  client: Record<string, unknown>,
  options: PublicRpcOptions,
): ServiceImpl<S> {
  const { auth, limiter, maxTimeoutMs } = options;
  const bind = async (ctx: HandlerContext, bucket: Bucket) => {
    const given = ctx.requestHeader.get(REQUEST_ID_HEADER);
    const requestId = isValidRequestId(given) ? given : randomRequestId();
    ctx.responseHeader.set(REQUEST_ID_HEADER, requestId);
    const { merchantId } = await auth.merchantFor(ctx.requestHeader.get("x-api-key"));
    const decision = limiter.take(merchantId, bucket);
    for (const [name, value] of Object.entries(rateLimitHeaders(decision))) ctx.responseHeader.set(name, value);
    if (!decision.allowed) {
      options.onRateLimited(bucket);
      throw appError(
        Code.ResourceExhausted,
        "RATE_LIMITED",
        `Too many requests; retry in ${decision.retryAfterSeconds} s.`,
      );
    }
    const timeoutMs = Math.min(ctx.timeoutMs() ?? maxTimeoutMs, maxTimeoutMs);
    return callOptions(merchantId, requestId, timeoutMs);
  };
  const impl: Record<string, (req: Record<string, unknown>, ctx: HandlerContext) => Promise<unknown>> = {};
  for (const method of service.methods) {
    if (method.methodKind !== "unary") continue;
    const call = client[method.localName] as (req: unknown, opts: unknown) => Promise<unknown>;
    const bucket: Bucket = READ_METHOD.test(method.name) ? "read" : "write";
    impl[method.localName] = async (req, ctx) => {
      const opts = await bind(ctx, bucket);
      if ("idempotencyKey" in req && !req.idempotencyKey) {
        return call({ ...req, idempotencyKey: ctx.requestHeader.get("idempotency-key") ?? "" }, opts);
      }
      return call(req, opts);
    };
  }
  return impl as unknown as ServiceImpl<S>;
}
