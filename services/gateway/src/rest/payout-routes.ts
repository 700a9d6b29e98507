import { parseAmount, payoutView } from "@mypay/kit";
import { DestinationType, type PayoutStatus, PayoutStatusSchema } from "@mypay/proto/mypay/payouts/v1/payouts";
import { callOptions, type Downstream } from "../downstream.ts";
import { badRequest, HttpErrorResponse } from "../http-errors.ts";
import { asObject, enumValue, invalid, pageQuery, stringField } from "./fields.ts";
import { header, type RouteContext } from "./http.ts";
import { enumByName, type Route } from "./route.ts";
import { transitionView } from "./views.ts";

const CREATE_FIELDS = [
  "merchantReference",
  "amount",
  "currency",
  "destType",
  "bankCode",
  "accountNumber",
  "accountTitle",
] as const;

export const PAYOUT_STATUSES = enumByName(PayoutStatusSchema);

/** `X-IDEMPOTENCY-KEY` (the seed's) or `Idempotency-Key` (IETF); 400 when neither is sent. */
export function idempotencyKey(ctx: RouteContext): string {
  const key = header(ctx.req, "x-idempotency-key") ?? header(ctx.req, "idempotency-key");
  if (!key) {
    throw new HttpErrorResponse(
      badRequest(
        400,
        "idempotency_key_required",
        "Send an X-IDEMPOTENCY-KEY (or Idempotency-Key) header.",
        "X-IDEMPOTENCY-KEY",
      ),
    );
  }
  if (key.length > 128) throw invalid("X-IDEMPOTENCY-KEY", "must be at most 128 characters");
  return key;
}

/** Parses `amount` (decimal string or number) and `currency` of a JSON body into Money. */
export function moneyFields(body: Record<string, unknown>) {
  const currency = stringField(body, "currency", { max: 3 }).toUpperCase();
  if (body.amount === undefined || body.amount === null) throw invalid("amount", "is required");
  const amount = parseAmount(body.amount, currency);
  if (!amount.ok) {
    throw invalid(amount.message.startsWith("unsupported currency") ? "currency" : "amount", amount.message);
  }
  return { currency, minorUnits: amount.minor };
}

/** A `reason` body (optional or required), for cancel and the admin decisions. */
export async function reasonBody(ctx: RouteContext, required: boolean): Promise<string> {
  const body = asObject(await (required ? ctx.body() : ctx.optionalBody()), ["reason"]);
  return stringField(body, "reason", { required, max: 500 });
}

/** The statuses filter from `?status=A,B`. */
export function statusFilter(query: URLSearchParams): PayoutStatus[] {
  const text = query.get("status");
  if (!text) return [];
  return text.split(",").map((s) => enumValue<PayoutStatus>("status", s.trim().toUpperCase(), PAYOUT_STATUSES));
}

/** Payouts: create, get, list, cancel, history — always of the key's merchant. */
export function payoutRoutes(down: Downstream): Route[] {
  const opts = (ctx: RouteContext) => callOptions(ctx.merchantId, ctx.requestId, ctx.timeoutMs);
  return [
    {
      method: "POST",
      path: "/api/v1/payouts",
      auth: "merchant",
      async handle(ctx) {
        const key = idempotencyKey(ctx);
        const body = asObject(await ctx.body(), CREATE_FIELDS);
        const amount = moneyFields(body);
        const destType = stringField(body, "destType", { max: 16 });
        if (destType !== "BANK") throw invalid("destType", 'must be "BANK"');
        const res = await down.payouts.createPayout(
          {
            idempotencyKey: key,
            merchantReference: stringField(body, "merchantReference", { max: 64 }),
            amount,
            destType: DestinationType.BANK,
            bankCode: stringField(body, "bankCode", { max: 16 }),
            accountNumber: stringField(body, "accountNumber", { max: 34 }),
            accountTitle: stringField(body, "accountTitle", { max: 128 }),
          },
          opts(ctx),
        );
        return {
          status: 201,
          body: payoutView(res.payout!),
          headers: res.replayed ? { "idempotent-replayed": "true" } : {},
        };
      },
    },
    {
      method: "GET",
      path: "/api/v1/payouts",
      auth: "merchant",
      async handle(ctx) {
        const page = pageQuery(ctx.query);
        const res = await down.payouts.listPayouts({ filter: { statuses: statusFilter(ctx.query) }, page }, opts(ctx));
        return { status: 200, body: { data: res.payouts.map(payoutView), hasMore: res.hasMore } };
      },
    },
    {
      method: "GET",
      path: "/api/v1/payouts/{id}",
      auth: "merchant",
      async handle(ctx) {
        const payout = await down.payoutReads.get(ctx.merchantId, ctx.params.id, ctx.requestId);
        return { status: 200, body: payoutView(payout) };
      },
    },
    {
      method: "POST",
      path: "/api/v1/payouts/{id}/cancel",
      auth: "merchant",
      async handle(ctx) {
        const reason = await reasonBody(ctx, false);
        const res = await down.payouts.cancelPayout({ id: ctx.params.id, reason }, opts(ctx));
        return { status: 200, body: payoutView(res.payout!) };
      },
    },
    {
      method: "GET",
      path: "/api/v1/payouts/{id}/history",
      auth: "merchant",
      async handle(ctx) {
        const res = await down.payouts.getPayoutHistory({ id: ctx.params.id }, opts(ctx));
        return { status: 200, body: { data: res.transitions.map(transitionView) } };
      },
    },
  ];
}
