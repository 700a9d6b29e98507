import { Code, ConnectError } from "@mypay/kit";
import { type AccountKind, AccountKindSchema } from "@mypay/proto/mypay/ledger/v1/ledger";
import { callOptions, type Downstream } from "../downstream.ts";
import { enumValue, invalid, pageQuery } from "./fields.ts";
import type { RouteContext } from "./http.ts";
import { enumByName, type Route } from "./route.ts";
import { balanceView, entryView } from "./views.ts";

const ACCOUNT_KINDS = enumByName(AccountKindSchema);

function currencyQuery(query: URLSearchParams, fallback: string): string {
  const currency = (query.get("currency") ?? fallback).toUpperCase();
  if (currency && !/^[A-Z]{3}$/.test(currency)) throw invalid("currency", "must be a 3-letter ISO-4217 code");
  return currency;
}

/** Balance and ledger entries of the key's merchant. */
export function ledgerRoutes(down: Downstream): Route[] {
  const opts = (ctx: RouteContext) => callOptions(ctx.merchantId, ctx.requestId, ctx.timeoutMs);
  return [
    {
      method: "GET",
      path: "/api/v1/balance",
      auth: "merchant",
      async handle(ctx) {
        const currency = currencyQuery(ctx.query, "PKR");
        try {
          const { balance } = await down.balance.getMyBalance({ currency }, opts(ctx));
          return { status: 200, body: balanceView(balance, currency) };
        } catch (err) {
          // Until the ledger serves BalanceService, read the same balance through LedgerService,
          // still bound to the key's merchant.
          if (!(err instanceof ConnectError && err.code === Code.Unimplemented)) throw err;
          const { balance } = await down.ledger.getBalance({ merchantId: ctx.merchantId, currency }, opts(ctx));
          return { status: 200, body: balanceView(balance, currency) };
        }
      },
    },
    {
      method: "GET",
      path: "/api/v1/ledger/entries",
      auth: "merchant",
      async handle(ctx) {
        const page = pageQuery(ctx.query);
        const accountText = ctx.query.get("account");
        const account = accountText
          ? enumValue<AccountKind>("account", accountText.toUpperCase(), ACCOUNT_KINDS)
          : undefined;
        const res = await down.balance.listMyEntries(
          { currency: currencyQuery(ctx.query, ""), page, ...(account ? { account } : {}) },
          opts(ctx),
        );
        return { status: 200, body: { data: res.entries.map(entryView), hasMore: res.hasMore } };
      },
    },
  ];
}
