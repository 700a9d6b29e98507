import { timestampDate } from "@bufbuild/protobuf/wkt";
import { formatAmount, parseAmount, payoutView } from "@mypay/kit";
import { DestinationType } from "@mypay/proto/mypay/payouts/v1/payouts";
import { callOptions, type Downstream } from "../downstream.ts";
import { badRequest, HttpErrorResponse } from "../http-errors.ts";
import { asObject, invalid, stringArrayField, stringField } from "./fields.ts";
import { header, type RouteContext, type RouteResult } from "./http.ts";

export interface Route {
  method: string;
  pattern: RegExp;
  /** Names of the pattern's capture groups, in order. */
  params: string[];
  handle(ctx: RouteContext): Promise<RouteResult>;
}

const CREATE_FIELDS = [
  "merchantReference",
  "amount",
  "currency",
  "destType",
  "bankCode",
  "accountNumber",
  "accountTitle",
] as const;

/** The REST API: seed-compatible JSON over the internal RPC services. */
export function restRoutes(down: Downstream): Route[] {
  const opts = (ctx: RouteContext) => callOptions(ctx.merchantId, ctx.requestId, ctx.timeoutMs);
  return [
    {
      method: "POST",
      pattern: /^\/api\/v1\/payouts$/,
      params: [],
      async handle(ctx) {
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
        const body = asObject(await ctx.body(), CREATE_FIELDS);
        const currency = stringField(body, "currency", { max: 3 }).toUpperCase();
        if (body.amount === undefined || body.amount === null) throw invalid("amount", "is required");
        const amount = parseAmount(body.amount, currency);
        if (!amount.ok)
          throw invalid(amount.message.startsWith("unsupported currency") ? "currency" : "amount", amount.message);
        const destType = stringField(body, "destType", { max: 16 });
        if (destType !== "BANK") throw invalid("destType", 'must be "BANK"');
        const res = await down.payouts.createPayout(
          {
            idempotencyKey: key,
            merchantReference: stringField(body, "merchantReference", { max: 64 }),
            amount: { currency, minorUnits: amount.minor },
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
      pattern: /^\/api\/v1\/payouts\/([^/]{1,64})$/,
      params: ["id"],
      async handle(ctx) {
        const res = await down.payouts.getPayout({ id: ctx.params.id }, opts(ctx));
        return { status: 200, body: payoutView(res.payout!) };
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/balance$/,
      params: [],
      async handle(ctx) {
        const currency = (ctx.query.get("currency") ?? "PKR").toUpperCase();
        if (!/^[A-Z]{3}$/.test(currency)) throw invalid("currency", "must be a 3-letter ISO-4217 code");
        const { balance } = await down.ledger.getBalance({ merchantId: ctx.merchantId, currency }, opts(ctx));
        const b = balance!;
        return {
          status: 200,
          body: {
            currency,
            balance: formatAmount(b.balanceMinor, currency),
            locked: formatAmount(b.lockedMinor, currency),
            available: formatAmount(b.availableMinor, currency),
          },
        };
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/webhook-endpoints$/,
      params: [],
      async handle(ctx) {
        const body = asObject(await ctx.body(), ["url", "description", "eventTypes"]);
        const res = await down.webhooks.createEndpoint(
          {
            url: stringField(body, "url", { max: 2048 }),
            description: stringField(body, "description", { required: false }),
            eventTypes: stringArrayField(body, "eventTypes"),
          },
          opts(ctx),
        );
        const ep = res.endpoint!;
        return {
          status: 201,
          body: {
            id: ep.id,
            url: ep.url,
            description: ep.description,
            eventTypes: ep.eventTypes,
            enabled: ep.enabled,
            createdAt: ep.createdAt ? timestampDate(ep.createdAt).toISOString() : null,
            secret: res.secret,
          },
        };
      },
    },
  ];
}
