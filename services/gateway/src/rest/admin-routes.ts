import { randomBytes } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { payoutView } from "@mypay/kit";
import { PayoutStatus } from "@mypay/proto/mypay/payouts/v1/payouts";
import type { Authenticator } from "../auth.ts";
import { adminCallOptions, type Downstream } from "../downstream.ts";
import { badRequest, HttpErrorResponse } from "../http-errors.ts";
import type { KeyStore } from "../store/key-store.ts";
import { asObject, ID, invalid, pageQuery, queryString, stringField, timeField } from "./fields.ts";
import type { RouteContext } from "./http.ts";
import { idempotencyKey, moneyFields, reasonBody, statusFilter } from "./payout-routes.ts";
import type { Route } from "./route.ts";
import { balanceView, messageView } from "./views.ts";

function notFound(what: string): HttpErrorResponse {
  return new HttpErrorResponse(badRequest(404, "not_found", `${what} not found`));
}

/**
 * Operations API (admin key only): the review queue and decisions, on-hold payouts, merchants and
 * their top-ups, API keys, and dead-lettered webhooks. Never reachable with a merchant key.
 */
export function adminRoutes(down: Downstream, keys: KeyStore, auth: Authenticator): Route[] {
  const opts = (ctx: RouteContext) => adminCallOptions(ctx.adminKeyId, ctx.requestId, ctx.timeoutMs);
  const listPayouts = async (ctx: RouteContext, statuses: PayoutStatus[]) => {
    const res = await down.payoutAdmin.listAllPayouts(
      { merchantId: queryString(ctx.query, "merchantId"), filter: { statuses }, page: pageQuery(ctx.query) },
      opts(ctx),
    );
    return { status: 200, body: { data: res.payouts.map(payoutView), hasMore: res.hasMore } };
  };
  const decision = (
    path: string,
    required: boolean,
    call: (id: string, reason: string, ctx: RouteContext) => Promise<{ payout?: Parameters<typeof payoutView>[0] }>,
  ): Route => ({
    method: "POST",
    path,
    auth: "admin",
    async handle(ctx) {
      const reason = await reasonBody(ctx, required);
      const res = await call(ctx.params.id, reason, ctx);
      return { status: 200, body: payoutView(res.payout!) };
    },
  });
  return [
    {
      method: "GET",
      path: "/api/v1/admin/payouts",
      auth: "admin",
      handle: (ctx) => listPayouts(ctx, statusFilter(ctx.query)),
    },
    {
      method: "GET",
      path: "/api/v1/admin/review-queue",
      auth: "admin",
      handle: (ctx) => listPayouts(ctx, [PayoutStatus.IN_REVIEW]),
    },
    decision("/api/v1/admin/payouts/{id}/approve", false, (id, reason, ctx) =>
      down.payoutAdmin.approvePayout({ id, reason }, opts(ctx)),
    ),
    decision("/api/v1/admin/payouts/{id}/reject", true, (id, reason, ctx) =>
      down.payoutAdmin.rejectPayout({ id, reason }, opts(ctx)),
    ),
    decision("/api/v1/admin/payouts/{id}/release-hold", false, (id, reason, ctx) =>
      down.payoutAdmin.releaseHold({ id, reason }, opts(ctx)),
    ),
    decision("/api/v1/admin/payouts/{id}/fail-hold", true, (id, reason, ctx) =>
      down.payoutAdmin.failHold({ id, reason }, opts(ctx)),
    ),
    {
      method: "POST",
      path: "/api/v1/admin/merchants",
      auth: "admin",
      async handle(ctx) {
        const body = asObject(await ctx.body(), ["id", "name"]);
        const id = stringField(body, "id", { required: false, max: 64 }) || `mch_${randomBytes(8).toString("hex")}`;
        if (!ID.test(id)) throw invalid("id", "must be 1-64 letters, digits, _ or -");
        const merchant = await keys.createMerchant(id, stringField(body, "name", { max: 128 }));
        if (!merchant) {
          throw new HttpErrorResponse(badRequest(409, "already_exists", `merchant ${id} already exists`, "id"));
        }
        return { status: 201, body: merchant };
      },
    },
    {
      method: "GET",
      path: "/api/v1/admin/merchants",
      auth: "admin",
      async handle(ctx) {
        const { limit, startingAfter } = pageQuery(ctx.query);
        return { status: 200, body: await keys.listMerchants(limit, startingAfter || undefined) };
      },
    },
    {
      method: "POST",
      path: "/api/v1/admin/merchants/{id}/top-ups",
      auth: "admin",
      async handle(ctx) {
        const key = idempotencyKey(ctx);
        const body = asObject(await ctx.body(), ["amount", "currency"]);
        const amount = moneyFields(body);
        if (!(await keys.merchantExists(ctx.params.id))) throw notFound(`merchant ${ctx.params.id}`);
        const res = await down.ledger.topUp(
          { merchantId: ctx.params.id, amount, idempotencyKey: `admin-topup:${ctx.params.id}:${key}` },
          opts(ctx),
        );
        return { status: 201, body: { merchantId: ctx.params.id, ...balanceView(res.balance, amount.currency) } };
      },
    },
    {
      method: "POST",
      path: "/api/v1/admin/merchants/{id}/api-keys",
      auth: "admin",
      async handle(ctx) {
        asObject(await ctx.optionalBody(), []);
        if (!(await keys.merchantExists(ctx.params.id))) throw notFound(`merchant ${ctx.params.id}`);
        return { status: 201, body: await keys.createKey(ctx.params.id) };
      },
    },
    {
      method: "GET",
      path: "/api/v1/admin/api-keys",
      auth: "admin",
      async handle(ctx) {
        const { limit, startingAfter } = pageQuery(ctx.query);
        const merchantId = queryString(ctx.query, "merchantId") || undefined;
        return { status: 200, body: await keys.listKeys(limit, startingAfter || undefined, merchantId) };
      },
    },
    {
      method: "POST",
      path: "/api/v1/admin/api-keys/{id}/revoke",
      auth: "admin",
      async handle(ctx) {
        asObject(await ctx.optionalBody(), []);
        const key = await keys.revokeKey(ctx.params.id);
        if (!key) throw notFound(`API key ${ctx.params.id}`);
        auth.forgetKey(key.id);
        return { status: 200, body: key };
      },
    },
    {
      method: "GET",
      path: "/api/v1/admin/dead-letters",
      auth: "admin",
      async handle(ctx) {
        const res = await down.notifier.listDeadLetters(
          { merchantId: queryString(ctx.query, "merchantId"), page: pageQuery(ctx.query) },
          opts(ctx),
        );
        return {
          status: 200,
          body: {
            data: res.messages.map((m) => ({ ...messageView(m), merchantId: m.merchantId })),
            hasMore: res.hasMore,
          },
        };
      },
    },
    {
      method: "POST",
      path: "/api/v1/admin/dead-letters/replay",
      auth: "admin",
      async handle(ctx) {
        const body = asObject(await ctx.body(), ["merchantId", "since"]);
        const since = timeField(body, "since", true);
        const res = await down.notifier.replayFailed(
          {
            merchantId: stringField(body, "merchantId", { required: false, max: 64 }),
            since: timestampFromDate(since),
          },
          opts(ctx),
        );
        return { status: 202, body: { requeued: res.requeued } };
      },
    },
  ];
}
