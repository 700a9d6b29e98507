import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, currencyExponent, errorDetails, invalidArgument, MAX_MINOR_UNITS, notFound } from "@mypay/kit";
import type { Money } from "@mypay/proto/mypay/common/v1/money";
import {
  type Balance,
  BalanceSchema,
  type Hold,
  HoldSchema,
  HoldStatus,
  type LedgerService,
  SettleAction,
} from "@mypay/proto/mypay/ledger/v1/ledger";
import { HoldState } from "./domain/accounts.ts";
import type { BalanceView, HoldView, LedgerStore } from "./store/ledger-store.ts";

/** Thin RPC layer: validates input, calls the store, converts to wire messages. */
export function ledgerService(store: LedgerStore): Partial<ServiceImpl<typeof LedgerService>> {
  return {
    async topUp(req) {
      const merchantId = required("merchantId", req.merchantId);
      const { currency, minor } = money(req.amount);
      const key = required("idempotencyKey", req.idempotencyKey);
      return { balance: toBalance(await store.topUp(merchantId, currency, minor, key)) };
    },
    async hold(req) {
      const merchantId = required("merchantId", req.merchantId);
      const holdId = required("holdId", req.holdId);
      const { currency, minor } = money(req.amount);
      return { hold: toHold(await store.hold(merchantId, holdId, currency, minor)) };
    },
    async capture(req) {
      return { hold: toHold(await store.capture(required("holdId", req.holdId))) };
    },
    async release(req) {
      return { hold: toHold(await store.release(required("holdId", req.holdId))) };
    },
    async getHold(req) {
      const hold = await store.getHold(required("holdId", req.holdId));
      if (!hold) throw notFound(`hold ${req.holdId}`);
      return { hold: toHold(hold) };
    },
    /** Settles each hold in turn; the ledger issue replaces this with one group-committed transaction. */
    async settleHolds(req) {
      const results = [];
      for (const item of req.settlements) {
        try {
          const holdId = required("holdId", item.holdId);
          const hold =
            item.action === SettleAction.CAPTURE
              ? await store.capture(holdId)
              : item.action === SettleAction.RELEASE
                ? await store.release(holdId)
                : undefined;
          if (!hold) throw invalidArgument("action", "must be CAPTURE or RELEASE");
          results.push({ holdId: item.holdId, hold: toHold(hold) });
        } catch (err) {
          const details = errorDetails(err);
          results.push({
            holdId: item.holdId,
            errorCode: Code[details.code] ?? "UNKNOWN",
            errorReason: details.reason,
            errorMessage: details.message,
          });
        }
      }
      return { results };
    },
    async getBalance(req) {
      const merchantId = required("merchantId", req.merchantId);
      const currency = currencyCode(req.currency);
      return { balance: toBalance(await store.balance(merchantId, currency)) };
    },
  };
}

/** Longest accepted identifier per field (the width of its column). */
const MAX_LENGTH: Record<string, number> = { merchantId: 64, holdId: 64, idempotencyKey: 150 };

function required(field: string, value: string): string {
  if (value.trim() === "") throw invalidArgument(field, "is required");
  const max = MAX_LENGTH[field] ?? 64;
  if (value.length > max) throw invalidArgument(field, `is longer than ${max} characters`);
  return value;
}

function currencyCode(value: string): string {
  if (currencyExponent(value) === undefined) throw invalidArgument("currency", `unsupported currency "${value}"`);
  return value;
}

function money(amount: Money | undefined): { currency: string; minor: bigint } {
  if (!amount) throw invalidArgument("amount", "is required");
  const currency = currencyCode(amount.currency);
  if (amount.minorUnits <= 0n) throw invalidArgument("amount", "must be greater than 0");
  if (amount.minorUnits > MAX_MINOR_UNITS) throw invalidArgument("amount", "is too large");
  return { currency, minor: amount.minorUnits };
}

const HOLD_STATUS: Record<HoldState, HoldStatus> = {
  [HoldState.PENDING]: HoldStatus.PENDING,
  [HoldState.CAPTURED]: HoldStatus.CAPTURED,
  [HoldState.RELEASED]: HoldStatus.RELEASED,
};

function toHold(hold: HoldView): Hold {
  return create(HoldSchema, {
    holdId: hold.id,
    merchantId: hold.merchantId,
    amount: { currency: hold.currency, minorUnits: hold.amount },
    status: HOLD_STATUS[hold.status],
    createdAt: timestampFromDate(hold.createdAt),
    updatedAt: timestampFromDate(hold.updatedAt),
  });
}

function toBalance(balance: BalanceView): Balance {
  return create(BalanceSchema, {
    merchantId: balance.merchantId,
    currency: balance.currency,
    balanceMinor: balance.available + balance.locked,
    lockedMinor: balance.locked,
    availableMinor: balance.available,
  });
}
