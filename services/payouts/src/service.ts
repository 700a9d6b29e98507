import type { Client, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  appError,
  Code,
  errorDetails,
  invalidArgument,
  MERCHANT_HEADER,
  notFound,
  parseAmount,
  Reason,
} from "@mypay/kit";
import type { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import type { PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import { type CreateRules, fingerprintOf, type NewPayout, validateCreate } from "./domain/create-payout.ts";
import { payoutIdFor } from "./domain/payout-id.ts";
import { type PayoutRow, toPayoutMessage } from "./payout-message.ts";
import type { PayoutStore } from "./store/payout-store.ts";

export interface PayoutServiceDeps {
  store: PayoutStore;
  ledger: Client<typeof LedgerService>;
  rules: CreateRules;
  /** Decimal threshold at or above which a payout waits for review. */
  reviewThreshold: string;
  /** Called after a payout is stored, to start processing and relaying at once. */
  onCreated: () => void;
}

function merchantOf(ctx: HandlerContext): string {
  const merchantId = ctx.requestHeader.get(MERCHANT_HEADER);
  if (!merchantId) throw appError(Code.Unauthenticated, Reason.UNAUTHENTICATED, "no merchant bound to this call");
  return merchantId;
}

export function payoutService(deps: PayoutServiceDeps): Partial<ServiceImpl<typeof PayoutService>> {
  const { store, ledger } = deps;

  const replay = (existing: PayoutRow, wanted: NewPayout) => {
    if (existing.fingerprint !== fingerprintOf(wanted)) {
      throw appError(
        Code.Aborted,
        Reason.IDEMPOTENCY_MISMATCH,
        "this idempotency key was already used with a different request body",
        { field: "idempotencyKey" },
      );
    }
    return { payout: toPayoutMessage(existing), replayed: true };
  };

  return {
    async createPayout(req, ctx) {
      const merchantId = merchantOf(ctx);
      const idempotencyKey = req.idempotencyKey || ctx.requestHeader.get("idempotency-key") || "";
      const wanted = validateCreate({ ...req, idempotencyKey }, deps.rules);
      const existing = await store.findByKey(merchantId, idempotencyKey);
      if (existing) return replay(existing, wanted);

      // The id is derived from merchant + key: a retry after a crash between hold and insert
      // finds the same hold (the ledger is idempotent on it) and converges.
      const id = payoutIdFor(merchantId, idempotencyKey);
      try {
        await ledger.hold({ merchantId, holdId: id, amount: { currency: wanted.currency, minorUnits: wanted.amount } });
      } catch (err) {
        if (errorDetails(err).reason === Reason.IDEMPOTENCY_MISMATCH) {
          throw appError(
            Code.Aborted,
            Reason.IDEMPOTENCY_MISMATCH,
            "this idempotency key was already used with a different request body",
            { field: "idempotencyKey" },
          );
        }
        throw err;
      }
      const threshold = parseAmount(deps.reviewThreshold, wanted.currency);
      const inReview = threshold.ok && wanted.amount >= threshold.minor;
      const now = new Date();
      const row: PayoutRow = {
        id,
        merchantId,
        idempotencyKey,
        fingerprint: fingerprintOf(wanted),
        merchantReference: wanted.merchantReference,
        currency: wanted.currency,
        amount: wanted.amount,
        status: inReview ? "IN_REVIEW" : "PENDING",
        destType: wanted.destType,
        bankCode: wanted.bankCode,
        accountNumber: wanted.accountNumber,
        accountTitle: wanted.accountTitle,
        pspReference: null,
        failureCode: null,
        failureMessage: null,
        attempts: 0,
        nextAttemptAt: now,
        createdAt: now,
        updatedAt: now,
        processedAt: null,
      };
      if (!(await store.insert(row, `merchant:${merchantId}`))) {
        const winner = await store.findByKey(merchantId, idempotencyKey);
        if (!winner) throw appError(Code.Unavailable, Reason.UNAVAILABLE, "payout could not be stored; retry");
        return replay(winner, wanted);
      }
      deps.onCreated();
      return { payout: toPayoutMessage(row), replayed: false };
    },

    async getPayout(req, ctx) {
      const merchantId = merchantOf(ctx);
      if (!req.id) throw invalidArgument("id", "is required");
      const row = await store.get(merchantId, req.id);
      if (!row) throw notFound(`payout ${req.id}`);
      return { payout: toPayoutMessage(row) };
    },
  };
}
