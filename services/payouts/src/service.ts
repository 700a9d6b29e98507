import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ACTOR_HEADER,
  appError,
  Code,
  errorDetails,
  GroupCommitter,
  invalidArgument,
  MERCHANT_HEADER,
  notFound,
  type Outcome,
  parseAmount,
  payoutStatusName,
  Reason,
} from "@mypay/kit";
import type { PageRequest } from "@mypay/proto/mypay/common/v1/paging";
import { type HoldRequestSchema, HoldStatus, type LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import {
  type PayoutAdminService,
  type PayoutBatchService,
  type PayoutFilter,
  type PayoutService,
  PayoutStatus,
} from "@mypay/proto/mypay/payouts/v1/payouts";
import type { Backlog } from "./backlog.ts";
import { type CreateRules, fingerprintOf, validateCreate } from "./domain/create-payout.ts";
import { newPayoutId } from "./domain/payout-id.ts";
import { Status } from "./domain/status.ts";
import type { PayoutMetrics } from "./metrics.ts";
import { type PayoutRow, toPayoutMessage } from "./payout-message.ts";
import {
  type BeginOutcome,
  IllegalTransitionError,
  type InsertOutcome,
  type ManualTransition,
  type NewPayoutInsert,
  PayoutNotFoundError,
  type PayoutStore,
  type RequestRecord,
} from "./store/payout-store.ts";

export interface PayoutServiceDeps {
  store: PayoutStore;
  ledger: Client<typeof LedgerService>;
  rules: CreateRules;
  /** Decimal threshold at or above which a payout waits for review. */
  reviewThreshold: string;
  idempotency: { ttlMs: number; lockMs: number };
  /** Group commit window of create inserts (ms). */
  groupCommitMs: number;
  backlog: Backlog;
  metrics: PayoutMetrics;
  /** Called after a payout is stored or changed, to start processing and relaying at once. */
  onChanged: () => void;
}

/**
 * Hold errors that are a definite answer from the ledger (stored and replayed); anything else, including
 * transport failures that surface with the same codes, may succeed on a retry.
 */
const DEFINITE = new Set<Code>([
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.Aborted,
  Code.AlreadyExists,
  Code.OutOfRange,
  Code.PermissionDenied,
]);

function merchantOf(ctx: HandlerContext): string {
  const merchantId = ctx.requestHeader.get(MERCHANT_HEADER);
  if (!merchantId) throw appError(Code.Unauthenticated, Reason.UNAUTHENTICATED, "no merchant bound to this call");
  return merchantId;
}

function actorOf(ctx: HandlerContext): string {
  const actor = ctx.requestHeader.get(ACTOR_HEADER)?.trim();
  return actor ? `admin:${actor.slice(0, 58)}` : "admin";
}

const mismatch = () =>
  appError(
    Code.Aborted,
    Reason.IDEMPOTENCY_MISMATCH,
    "this idempotency key was already used with a different request body",
    { field: "idempotencyKey" },
  );

/** Retryable: the create got to its hold only after its key's lock ran out (a slow database, say). */
const lockExpired = () =>
  appError(Code.Unavailable, Reason.UNAVAILABLE, "the request took longer than its idempotency key's lock; retry");

const inProgress = () =>
  appError(
    Code.Aborted,
    Reason.IDEMPOTENCY_IN_PROGRESS,
    "a request with this idempotency key is still in progress; retry later",
    { field: "idempotencyKey" },
  );

/** The stored first error of a key, answered again and flagged as replayed. */
function storedError(record: RequestRecord) {
  return appError(
    (record.errorCode ?? Code.Internal) as Code,
    record.errorReason ?? Reason.INTERNAL,
    record.errorMessage ?? "the first request with this key failed",
    { ...(record.errorField ? { field: record.errorField } : {}), metadata: { replayed: "true" } },
  );
}

/** Page size: 0 means 20; otherwise 1-100. */
function pageLimit(page: PageRequest | undefined): number {
  const limit = page?.limit ?? 0;
  if (limit === 0) return 20;
  if (limit < 1 || limit > 100) throw invalidArgument("limit", "must be between 1 and 100");
  return limit;
}

function statusesOf(filter: PayoutFilter | undefined): Status[] {
  return (filter?.statuses ?? []).map((s) => {
    const name = payoutStatusName(s);
    if (s === PayoutStatus.UNSPECIFIED || !(name in Status)) throw invalidArgument("statuses", `unknown status ${s}`);
    return name as Status;
  });
}

function illegal(err: IllegalTransitionError) {
  return appError(Code.FailedPrecondition, Reason.ILLEGAL_TRANSITION, err.message, {
    metadata: { currentStatus: err.current },
  });
}

/** A create's hold on its idempotency key: who holds it, since when, and until when. */
interface Claim {
  owner: string;
  now: Date;
  lockedUntil: Date;
}

/** A hold to place for a create, and the moment its key's lock runs out. */
interface PendingHold {
  hold: MessageInitShape<typeof HoldRequestSchema>;
  lockedUntil: Date;
}

/**
 * Places holds in one ledger call. Each item's failure comes back as the error a Hold call would have
 * thrown (with its ErrorInfo, so it counts as the ledger's decision); a failure of the call itself
 * rejects every item and decides nothing.
 *
 * A hold whose key's lock has run out is not sent: the reconciler may already have given its request up
 * and released a hold that did not exist yet, so a hold placed now would stay locked for good. The
 * reconciler waits out a hold sent just before the lock ran out (`holdWindowMs`).
 */
async function placeHolds(
  ledger: Client<typeof LedgerService>,
  items: PendingHold[],
): Promise<Array<Outcome<HoldStatus>>> {
  const now = Date.now();
  const outcomes: Array<Outcome<HoldStatus>> = new Array(items.length);
  const sending: number[] = [];
  items.forEach((item, i) => {
    if (item.lockedUntil.getTime() > now) sending.push(i);
    else outcomes[i] = { ok: false, error: lockExpired() };
  });
  if (sending.length === 0) return outcomes;
  const { results } = await ledger.placeHolds({ holds: sending.map((i) => items[i]!.hold) });
  sending.forEach((itemIndex, i) => {
    const result = results[i];
    outcomes[itemIndex] = !result
      ? { ok: false, error: appError(Code.Internal, Reason.INTERNAL, "the ledger answered no result") }
      : result.hold
        ? { ok: true, value: result.hold.status }
        : {
            ok: false,
            error: appError(result.errorCode as Code, result.errorReason, result.errorMessage, {
              ...(result.errorField ? { field: result.errorField } : {}),
            }),
          };
  });
  return outcomes;
}

/** Runs a manual transition, mapping store errors to wire errors. */
async function changeStatus(store: PayoutStore, t: ManualTransition): Promise<PayoutRow> {
  if (!t.id) throw invalidArgument("id", "is required");
  try {
    return await store.transition(t);
  } catch (err) {
    if (err instanceof PayoutNotFoundError) throw notFound(`payout ${t.id}`);
    if (err instanceof IllegalTransitionError) throw illegal(err);
    throw err;
  }
}

async function listPage(
  store: PayoutStore,
  merchantId: string | undefined,
  filter: PayoutFilter | undefined,
  page: PageRequest | undefined,
) {
  try {
    const { rows, hasMore } = await store.list({
      merchantId,
      statuses: statusesOf(filter),
      createdAfter: filter?.createdAfter ? timestampDate(filter.createdAfter) : undefined,
      createdBefore: filter?.createdBefore ? timestampDate(filter.createdBefore) : undefined,
      limit: pageLimit(page),
      startingAfter: page?.startingAfter || undefined,
    });
    return { payouts: rows.map(toPayoutMessage), hasMore };
  } catch (err) {
    if (err instanceof PayoutNotFoundError) throw invalidArgument("startingAfter", "is not a payout of this list");
    throw err;
  }
}

/** The merchant-facing payout API. */
export function payoutService(deps: PayoutServiceDeps): ServiceImpl<typeof PayoutService> {
  const { store, ledger, metrics } = deps;
  const groupOptions = { maxWaitMs: deps.groupCommitMs, maxBatch: 200, concurrency: 4 };
  const begin = new GroupCommitter<RequestRecord, BeginOutcome>(groupOptions, (items) => store.beginRequests(items));
  const insert = new GroupCommitter<NewPayoutInsert, InsertOutcome>(groupOptions, (items) =>
    store.insertPayouts(items),
  );
  // Holds of concurrent creates travel to the ledger together, in one PlaceHolds call.
  const holds = new GroupCommitter<PendingHold, HoldStatus>(groupOptions, (items) => placeHolds(ledger, items));

  /** Answers a key whose record already stands: replay, stored error, in progress, or a takeover. */
  async function resolveExisting(record: RequestRecord, fingerprint: string, claim: Claim) {
    const { owner, now, lockedUntil } = claim;
    if (record.fingerprint !== fingerprint) throw mismatch();
    if (record.state === "done") {
      const payout = await store.get(record.merchantId, record.payoutId);
      if (!payout) throw appError(Code.Unavailable, Reason.UNAVAILABLE, "payout not readable yet; retry");
      return { payout: toPayoutMessage(payout), replayed: true };
    }
    if (record.state === "abandoned") throw storedError(record);
    const canTakeOver =
      (record.state === "failed" && record.expiresAt <= now) ||
      (record.state === "in_progress" && record.lockedUntil <= now);
    if (!canTakeOver) throw record.state === "failed" ? storedError(record) : inProgress();
    const expiresAt = new Date(now.getTime() + deps.idempotency.ttlMs);
    if (!(await store.takeOverRequest(record, owner, lockedUntil, expiresAt))) throw inProgress();
    return undefined;
  }

  /** The create after its key is taken: ledger hold, then the group-committed insert. */
  async function holdAndInsert(
    merchantId: string,
    id: string,
    claim: Claim,
    wanted: ReturnType<typeof validateCreate>,
    fingerprint: string,
  ) {
    const { owner } = claim;
    let holdStatus: HoldStatus;
    try {
      holdStatus = await holds.submit({
        hold: { merchantId, holdId: id, amount: { currency: wanted.currency, minorUnits: wanted.amount } },
        lockedUntil: claim.lockedUntil,
      });
    } catch (err) {
      const details = errorDetails(err);
      if (!details.decided || !DEFINITE.has(details.code)) throw err;
      const error = appError(details.code, details.reason, details.message, {
        ...(details.field ? { field: details.field } : {}),
      });
      await store.failRequest(
        id,
        owner,
        { ...details, code: details.code },
        new Date(Date.now() + deps.idempotency.ttlMs),
      );
      throw error;
    }
    if (holdStatus !== HoldStatus.PENDING) {
      // Only a key whose earlier hold was already settled gets here (e.g. a stored error expired after
      // its hold was released): the funds are gone, so this key cannot make a payout again.
      const error = {
        code: Code.FailedPrecondition,
        reason: Reason.REQUEST_ABANDONED,
        message: "this idempotency key's hold is already settled; use a new key",
      };
      await store.failRequest(id, owner, error, new Date(Date.now() + deps.idempotency.ttlMs));
      throw appError(error.code, error.reason, error.message, { field: "idempotencyKey" });
    }

    const threshold = parseAmount(deps.reviewThreshold, wanted.currency);
    const inReview = threshold.ok && wanted.amount >= threshold.minor;
    const at = new Date();
    const row: PayoutRow = {
      id,
      merchantId,
      idempotencyKey: wanted.idempotencyKey,
      fingerprint,
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
      nextAttemptAt: at,
      createdAt: at,
      updatedAt: at,
      processedAt: null,
    };
    const outcome = await insert.submit({ row, actor: `merchant:${merchantId}`, owner });
    if (outcome === "lost") {
      // Another request took the key over (our lock expired) or the reconciler abandoned it.
      const record = await store.getRequest(id);
      if (record?.state === "done") return (await resolveExisting(record, fingerprint, claim))!;
      if (record?.state === "abandoned") throw storedError(record);
      throw inProgress();
    }
    metrics.created(wanted.currency);
    deps.onChanged();
    return { payout: toPayoutMessage(row), replayed: false };
  }

  return {
    async createPayout(req, ctx) {
      const merchantId = merchantOf(ctx);
      const idempotencyKey = req.idempotencyKey || ctx.requestHeader.get("idempotency-key") || "";
      const wanted = validateCreate({ ...req, idempotencyKey }, deps.rules);
      if (deps.backlog.full()) {
        throw appError(
          Code.ResourceExhausted,
          Reason.BACKLOG_FULL,
          "too many payouts are waiting to be processed; retry later",
          { metadata: { retryAfterSeconds: "1" } },
        );
      }
      const fingerprint = fingerprintOf(wanted);
      const now = new Date();
      const claim: Claim = {
        owner: randomUUID(),
        now,
        lockedUntil: new Date(now.getTime() + deps.idempotency.lockMs),
      };
      // The request record is written BEFORE the hold: it marks the key in flight, is the reconciler's
      // evidence of a hold that may lack a payout, and fixes the payout id (also the hold id) of its key:
      // a retry after a crash between hold and insert reads it back and converges on the same hold.
      const mine: RequestRecord = {
        payoutId: newPayoutId(),
        merchantId,
        idempotencyKey,
        fingerprint,
        state: "in_progress",
        owner: claim.owner,
        lockedUntil: claim.lockedUntil,
        errorCode: null,
        errorReason: null,
        errorMessage: null,
        errorField: null,
        createdAt: now,
        updatedAt: now,
        expiresAt: new Date(now.getTime() + deps.idempotency.ttlMs),
      };
      const started = await begin.submit(mine);
      if (!started.started) {
        const replay = await resolveExisting(started.record, fingerprint, claim);
        if (replay) return replay;
      }
      const id = started.started ? mine.payoutId : started.record.payoutId;

      try {
        return await holdAndInsert(merchantId, id, claim, wanted, fingerprint);
      } catch (err) {
        // Whatever failed after the key was taken (a stored error excepted), a retry may take over at once:
        // the hold is idempotent on the payout id, so it converges on the same hold.
        await store.unlockRequest(id, claim.owner).catch(() => {});
        throw err;
      }
    },

    async getPayout(req, ctx) {
      const merchantId = merchantOf(ctx);
      if (!req.id) throw invalidArgument("id", "is required");
      const row = await store.get(merchantId, req.id);
      if (!row) throw notFound(`payout ${req.id}`);
      return { payout: toPayoutMessage(row) };
    },

    async listPayouts(req, ctx) {
      return listPage(store, merchantOf(ctx), req.filter, req.page);
    },

    async cancelPayout(req, ctx) {
      const merchantId = merchantOf(ctx);
      const row = await changeStatus(store, {
        id: req.id,
        merchantId,
        to: "CANCELLED",
        reason: req.reason.trim() || "cancelled by merchant",
        actor: `merchant:${merchantId}`,
      });
      deps.onChanged();
      return { payout: toPayoutMessage(row) };
    },

    async getPayoutHistory(req, ctx) {
      const merchantId = merchantOf(ctx);
      if (!req.id) throw invalidArgument("id", "is required");
      if (!(await store.get(merchantId, req.id))) throw notFound(`payout ${req.id}`);
      const items = await store.history(req.id);
      return {
        transitions: items.map((t) => ({
          from: t.fromStatus ? PayoutStatus[t.fromStatus] : PayoutStatus.UNSPECIFIED,
          to: PayoutStatus[t.toStatus],
          reason: t.reason ?? "",
          actor: t.actor,
          at: timestampFromDate(t.at),
        })),
      };
    },
  };
}

/** Most ids one BatchGetPayouts call may ask for. */
const MAX_BATCH_GET = 1000;

/** The gateway's coalesced reads: many GetPayout calls of one merchant answered by one query. */
export function payoutBatchService(deps: Pick<PayoutServiceDeps, "store">): ServiceImpl<typeof PayoutBatchService> {
  return {
    async batchGetPayouts(req, ctx) {
      const merchantId = merchantOf(ctx);
      if (req.ids.length > MAX_BATCH_GET) throw invalidArgument("ids", `at most ${MAX_BATCH_GET} ids`);
      const rows = await deps.store.getMany(merchantId, req.ids);
      return { payouts: rows.map(toPayoutMessage) };
    },
  };
}

/** The operations API: review queue, approve/reject, on-hold release/fail. */
export function payoutAdminService(deps: Pick<PayoutServiceDeps, "store" | "onChanged">) {
  const { store } = deps;
  const act = async (ctx: HandlerContext, t: Omit<ManualTransition, "actor">) => {
    const row = await changeStatus(store, { ...t, actor: actorOf(ctx) });
    deps.onChanged();
    return { payout: toPayoutMessage(row) };
  };
  const required = (reason: string) => {
    const trimmed = reason.trim();
    if (!trimmed) throw invalidArgument("reason", "is required");
    return trimmed;
  };
  const impl: ServiceImpl<typeof PayoutAdminService> = {
    listAllPayouts: (req) => listPage(store, req.merchantId || undefined, req.filter, req.page),
    approvePayout: (req, ctx) =>
      act(ctx, { id: req.id, from: ["IN_REVIEW"], to: "PENDING", reason: req.reason.trim() || "approved" }),
    rejectPayout: (req, ctx) =>
      act(ctx, {
        id: req.id,
        from: ["IN_REVIEW"],
        to: "FAILED",
        reason: required(req.reason),
        failureCode: Reason.REVIEW_REJECTED,
      }),
    releaseHold: (req, ctx) =>
      act(ctx, { id: req.id, from: ["ON_HOLD"], to: "PENDING", reason: req.reason.trim() || "hold released" }),
    failHold: (req, ctx) =>
      act(ctx, {
        id: req.id,
        from: ["ON_HOLD"],
        to: "FAILED",
        reason: required(req.reason),
        failureCode: "HOLD_FAILED",
      }),
  };
  return impl;
}
