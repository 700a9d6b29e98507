import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  appError,
  Code,
  currencyExponent,
  errorDetails,
  invalidArgument,
  MAX_MINOR_UNITS,
  MERCHANT_HEADER,
  notFound,
  Reason,
} from "@mypay/kit";
import type { Money } from "@mypay/proto/mypay/common/v1/money";
import type { PageRequest } from "@mypay/proto/mypay/common/v1/paging";
import {
  type Balance,
  BalanceSchema,
  type BalanceService,
  type Entry,
  EntrySchema,
  type Hold,
  type HoldResult,
  HoldResultSchema,
  HoldSchema,
  HoldStatus,
  type LedgerService,
  SettleAction,
  type SettleResult,
  SettleResultSchema,
  AccountKind as WireAccountKind,
} from "@mypay/proto/mypay/ledger/v1/ledger";
import { AccountKind, HoldState } from "./domain/accounts.ts";
import type { BalanceView, EntryFilter, EntryView, HoldItem, HoldView, LedgerStore } from "./store/ledger-store.ts";

/** Most items in one SettleHolds or PlaceHolds call (the payouts service sends up to 200). */
export const MAX_BATCH = 1_000;
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

/** When the caller stops waiting (epoch ms), if it said. */
function deadlineOf(ctx: HandlerContext): number | undefined {
  const left = ctx.timeoutMs();
  return left === undefined ? undefined : Date.now() + left;
}

/** Thin RPC layer: validates input, calls the store, converts to wire messages. */
export function ledgerService(store: LedgerStore): ServiceImpl<typeof LedgerService> {
  return {
    async topUp(req) {
      const merchantId = required("merchantId", req.merchantId);
      const { currency, minor } = money(req.amount);
      const key = required("idempotencyKey", req.idempotencyKey);
      return { balance: toBalance(await store.topUp(merchantId, currency, minor, key)) };
    },
    async hold(req, ctx) {
      const merchantId = required("merchantId", req.merchantId);
      const holdId = required("holdId", req.holdId);
      const { currency, minor } = money(req.amount);
      return { hold: toHold(await store.hold(merchantId, holdId, currency, minor, deadlineOf(ctx))) };
    },
    /** Group committed with every other operation; every item keeps its own outcome, in request order. */
    async placeHolds(req, ctx) {
      if (req.holds.length > MAX_BATCH) throw invalidArgument("holds", `at most ${MAX_BATCH} per call`);
      const deadline = deadlineOf(ctx);
      const results: HoldResult[] = new Array(req.holds.length);
      const valid: Array<HoldItem & { index: number }> = [];
      req.holds.forEach((item, index) => {
        try {
          const merchantId = required("merchantId", item.merchantId);
          const holdId = required("holdId", item.holdId);
          const { currency, minor } = money(item.amount);
          valid.push({ index, merchantId, holdId, currency, amount: minor, deadline });
        } catch (err) {
          results[index] = holdFailure(item.holdId, err);
        }
      });
      const outcomes = valid.length > 0 ? await store.placeHolds(valid) : [];
      // A batch that failed as a whole (the database, say) decided nothing: the call fails, retryably.
      const undecided = outcomes.find((o) => !o.ok && !errorDetails(o.error).decided);
      if (undecided && !undecided.ok) throw undecided.error;
      valid.forEach(({ index, holdId }, i) => {
        const outcome = outcomes[i]!;
        results[index] = outcome.ok
          ? create(HoldResultSchema, { holdId, hold: toHold(outcome.value) })
          : holdFailure(holdId, outcome.error);
      });
      return { results };
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
    /** One transaction for the whole call; every item keeps its own outcome, in request order. */
    async settleHolds(req) {
      if (req.settlements.length > MAX_BATCH) {
        throw invalidArgument("settlements", `at most ${MAX_BATCH} per call`);
      }
      const results: SettleResult[] = new Array(req.settlements.length);
      const valid: Array<{ index: number; holdId: string; action: "capture" | "release" }> = [];
      req.settlements.forEach((item, index) => {
        try {
          const holdId = required("holdId", item.holdId);
          const action =
            item.action === SettleAction.CAPTURE
              ? "capture"
              : item.action === SettleAction.RELEASE
                ? "release"
                : undefined;
          if (!action) throw invalidArgument("action", "must be CAPTURE or RELEASE");
          valid.push({ index, holdId, action });
        } catch (err) {
          results[index] = settleFailure(item.holdId, err);
        }
      });
      const outcomes = valid.length > 0 ? await store.settle(valid) : [];
      valid.forEach(({ index, holdId }, i) => {
        const outcome = outcomes[i]!;
        results[index] = outcome.ok
          ? create(SettleResultSchema, { holdId, hold: toHold(outcome.value) })
          : settleFailure(holdId, outcome.error);
      });
      return { results };
    },
    async getBalance(req) {
      const merchantId = required("merchantId", req.merchantId);
      const currency = currencyCode("currency", req.currency);
      return { balance: toBalance(await store.balance(merchantId, currency)) };
    },
    async listEntries(req) {
      if (req.merchantId !== "") required("merchantId", req.merchantId);
      const filter = entryFilter(
        req.merchantId,
        req.account,
        req.currency,
        req.createdAfter,
        req.createdBefore,
        req.page,
      );
      const { entries, hasMore } = await store.listEntries(filter);
      return { entries: entries.map(toEntry), hasMore };
    },
    async verifyInvariants() {
      return await store.verifyInvariants();
    },
  };
}

/**
 * The merchant's own view. The merchant comes from the `mypay-merchant-id` header that the gateway
 * sets from the API key; a call without it is UNAUTHENTICATED.
 */
export function balanceService(store: LedgerStore): ServiceImpl<typeof BalanceService> {
  return {
    async getMyBalance(req, ctx) {
      const merchantId = callerMerchant(ctx);
      const currency = req.currency === "" ? "PKR" : currencyCode("currency", req.currency);
      return { balance: toBalance(await store.balance(merchantId, currency)) };
    },
    async listMyEntries(req, ctx) {
      const merchantId = callerMerchant(ctx);
      if (req.account === WireAccountKind.FUNDING || req.account === WireAccountKind.SETTLEMENT) {
        throw invalidArgument("account", "must be AVAILABLE or LOCKED");
      }
      const filter = entryFilter(merchantId, req.account, req.currency, req.createdAfter, req.createdBefore, req.page);
      const { entries, hasMore } = await store.listEntries(filter);
      return { entries: entries.map(toEntry), hasMore };
    },
  };
}

function callerMerchant(ctx: HandlerContext): string {
  const merchantId = ctx.requestHeader.get(MERCHANT_HEADER)?.trim() ?? "";
  if (merchantId === "" || merchantId.length > MAX_LENGTH.merchantId!) {
    throw appError(Code.Unauthenticated, Reason.UNAUTHENTICATED, "no merchant bound to this call");
  }
  return merchantId;
}

/** Longest accepted identifier per field (the width of its column). */
const MAX_LENGTH: Record<string, number> = { merchantId: 64, holdId: 64, idempotencyKey: 150 };

function required(field: string, value: string): string {
  if (value.trim() === "") throw invalidArgument(field, "is required");
  const max = MAX_LENGTH[field] ?? 64;
  if (value.length > max) throw invalidArgument(field, `is longer than ${max} characters`);
  return value;
}

function currencyCode(field: string, value: string): string {
  if (currencyExponent(value) === undefined) throw invalidArgument(field, `unsupported currency "${value}"`);
  return value;
}

function money(amount: Money | undefined): { currency: string; minor: bigint } {
  if (!amount) throw invalidArgument("amount", "is required");
  const currency = currencyCode("amount.currency", amount.currency);
  if (amount.minorUnits <= 0n) throw invalidArgument("amount.minorUnits", "must be greater than 0");
  if (amount.minorUnits > MAX_MINOR_UNITS) {
    throw invalidArgument("amount.minorUnits", `must be at most ${MAX_MINOR_UNITS}`);
  }
  return { currency, minor: amount.minorUnits };
}

const KIND_OF_WIRE: Partial<Record<WireAccountKind, AccountKind>> = {
  [WireAccountKind.AVAILABLE]: AccountKind.AVAILABLE,
  [WireAccountKind.LOCKED]: AccountKind.LOCKED,
  [WireAccountKind.FUNDING]: AccountKind.FUNDING,
  [WireAccountKind.SETTLEMENT]: AccountKind.SETTLEMENT,
};

const WIRE_OF_KIND: Record<AccountKind, WireAccountKind> = {
  [AccountKind.AVAILABLE]: WireAccountKind.AVAILABLE,
  [AccountKind.LOCKED]: WireAccountKind.LOCKED,
  [AccountKind.FUNDING]: WireAccountKind.FUNDING,
  [AccountKind.SETTLEMENT]: WireAccountKind.SETTLEMENT,
};

function entryFilter(
  merchantId: string,
  account: WireAccountKind,
  currency: string,
  createdAfter: Timestamp | undefined,
  createdBefore: Timestamp | undefined,
  page: PageRequest | undefined,
): EntryFilter {
  const kind = KIND_OF_WIRE[account];
  if (!kind && account !== WireAccountKind.UNSPECIFIED) throw invalidArgument("account", "unknown account kind");
  const limit = page?.limit || DEFAULT_PAGE;
  if (limit < 1 || limit > MAX_PAGE) throw invalidArgument("page.limit", `must be between 1 and ${MAX_PAGE}`);
  const cursor = page?.startingAfter ?? "";
  if (cursor !== "" && !/^[1-9]\d{0,18}$/.test(cursor)) {
    throw invalidArgument("page.startingAfter", "must be an entry id from a previous page");
  }
  return {
    merchantId,
    kind,
    currency: currency === "" ? undefined : currencyCode("currency", currency),
    createdAfter: createdAfter ? timestampDate(createdAfter) : undefined,
    createdBefore: createdBefore ? timestampDate(createdBefore) : undefined,
    startingAfter: cursor === "" ? undefined : BigInt(cursor),
    limit,
  };
}

function holdFailure(holdId: string, err: unknown): HoldResult {
  const details = errorDetails(err);
  return create(HoldResultSchema, {
    holdId,
    errorCode: details.code,
    errorReason: details.reason,
    errorMessage: details.message,
    errorField: details.field ?? "",
  });
}

function settleFailure(holdId: string, err: unknown): SettleResult {
  const details = errorDetails(err);
  return create(SettleResultSchema, {
    holdId,
    errorCode: codeName(details.code),
    errorReason: details.reason,
    errorMessage: details.message,
  });
}

/** gRPC's upper-snake code names (`FAILED_PRECONDITION`). */
function codeName(code: Code): string {
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
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

function toEntry(entry: EntryView): Entry {
  return create(EntrySchema, {
    id: entry.id,
    transferId: entry.transferId,
    merchantId: entry.merchantId,
    account: WIRE_OF_KIND[entry.kind],
    currency: entry.currency,
    amountMinor: entry.amount,
    transferKind: entry.transferKind,
    holdId: entry.holdId,
    createdAt: timestampFromDate(entry.createdAt),
  });
}
