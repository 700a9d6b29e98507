import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type CallOptions, type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "@mypay/proto/google/rpc/error_details";
import { AccountKind, AccountKindSchema, BalanceService, type Entry } from "@mypay/proto/mypay/ledger/v1/ledger";
import {
  type Attempt,
  type Endpoint,
  type Message,
  MessageStatus,
  WebhookEndpointService,
} from "@mypay/proto/mypay/notifier/v1/notifier";
import {
  DestinationType,
  type Payout as PayoutMessage,
  PayoutService,
  PayoutStatus as PayoutStatusEnum,
  PayoutStatusSchema,
} from "@mypay/proto/mypay/payouts/v1/payouts";
import { codeName, createError, type MyPayError, parseRetryAfter } from "../errors.ts";
import { fromMinorUnits, toMinorUnits } from "../money.ts";
import type {
  LedgerEntry,
  Payout,
  PayoutStatus,
  WebhookAttempt,
  WebhookEndpoint,
  WebhookMessage,
  WebhookMessageStatus,
} from "../types.ts";
import type { Backend, CallContext } from "./backend.ts";

type Timestamp = Parameters<typeof timestampDate>[0];

const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);
const toTimestamp = (t: Date | string | undefined) => (t === undefined ? undefined : timestampFromDate(new Date(t)));

function statusName(status: PayoutStatusEnum): PayoutStatus {
  return (PayoutStatusSchema.value[status]?.localName ?? "PENDING") as PayoutStatus;
}

function statusNumber(status: PayoutStatus): PayoutStatusEnum {
  const value = PayoutStatusSchema.values.find((v) => v.localName === status);
  if (!value) throw new RangeError(`unknown payout status ${status}`);
  return value.number as PayoutStatusEnum;
}

function payoutView(p: PayoutMessage): Payout {
  const currency = p.amount?.currency ?? "";
  return {
    id: p.id,
    status: statusName(p.status),
    amount: fromMinorUnits(p.amount?.minorUnits ?? 0n, currency),
    currency,
    merchantReference: p.merchantReference,
    destType: p.destType === DestinationType.BANK ? "BANK" : "UNSPECIFIED",
    bankCode: p.bankCode,
    accountNumber: p.accountNumber,
    accountTitle: p.accountTitle,
    pspReference: p.pspReference || null,
    failureCode: p.failureCode || null,
    failureMessage: p.failureMessage || null,
    attempts: p.attempts,
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
    processedAt: iso(p.processedAt),
  };
}

function endpointView(e: Endpoint): WebhookEndpoint {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: [...e.eventTypes],
    enabled: e.enabled,
    disabledReason: e.disabledReason || null,
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}

const MESSAGE_STATUS: Record<number, WebhookMessageStatus> = {
  [MessageStatus.PENDING]: "PENDING",
  [MessageStatus.DELIVERED]: "DELIVERED",
  [MessageStatus.DEAD]: "DEAD",
};

function messageView(m: Message): WebhookMessage {
  return {
    id: m.id,
    endpointId: m.endpointId,
    eventId: m.eventId,
    eventType: m.eventType,
    subjectId: m.subjectId || null,
    status: MESSAGE_STATUS[m.status] ?? "PENDING",
    attempts: m.attempts,
    nextAttemptAt: iso(m.nextAttemptAt),
    createdAt: iso(m.createdAt),
    deliveredAt: iso(m.deliveredAt),
  };
}

function attemptView(a: Attempt): WebhookAttempt {
  return {
    id: a.id,
    messageId: a.messageId,
    attemptedAt: iso(a.attemptedAt),
    result: a.result,
    statusCode: a.statusCode,
    latencyMs: a.latencyMs,
    error: a.error || null,
    responseExcerpt: a.responseExcerpt || null,
  };
}

function entryView(e: Entry): LedgerEntry {
  return {
    id: e.id,
    transferId: e.transferId,
    account: AccountKindSchema.value[e.account]?.localName ?? "UNSPECIFIED",
    currency: e.currency,
    amount: fromMinorUnits(e.amountMinor, e.currency),
    transferKind: e.transferKind,
    holdId: e.holdId,
    createdAt: iso(e.createdAt),
  };
}

/** Turns whatever a Connect call threw into the SDK's typed error. */
export function errorFromConnect(err: unknown, requestId: string): MyPayError {
  let ce = ConnectError.from(err);
  // fetch reports a refused or reset connection as a TypeError, which Connect files under Unknown.
  if (ce.code === Code.Unknown && ce.cause instanceof TypeError) {
    ce = new ConnectError(ce.rawMessage, Code.Unavailable, ce.metadata, undefined, ce.cause);
  }
  const info = ce.findDetails(ErrorInfoSchema)[0];
  const retryDelay = ce.findDetails(RetryInfoSchema)[0]?.retryDelay;
  const retryAfter = retryDelay
    ? Number(retryDelay.seconds) + retryDelay.nanos / 1e9
    : parseRetryAfter(ce.metadata.get("retry-after"));
  const param = info?.metadata.field;
  return createError(ce.rawMessage || codeName(ce.code), {
    code: info?.reason || codeName(ce.code).toUpperCase(),
    rpcCode: ce.code,
    requestId: ce.metadata.get("x-request-id") ?? requestId,
    ...(param ? { param } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
    cause: err,
  });
}

/** The API over a Connect transport (Connect, gRPC or gRPC-Web protocol): the generated clients. */
export class RpcBackend implements Backend {
  readonly #payouts: Client<typeof PayoutService>;
  readonly #balance: Client<typeof BalanceService>;
  readonly #webhooks: Client<typeof WebhookEndpointService>;
  readonly #close: () => Promise<void>;

  constructor(transport: Transport, close: () => Promise<void> = async () => {}) {
    this.#payouts = createClient(PayoutService, transport);
    this.#balance = createClient(BalanceService, transport);
    this.#webhooks = createClient(WebhookEndpointService, transport);
    this.#close = close;
  }

  async #call<T>(ctx: CallContext, run: (options: CallOptions) => Promise<T>): Promise<T> {
    const headers = new Headers({ "x-request-id": ctx.requestId });
    if (ctx.idempotencyKey) headers.set("idempotency-key", ctx.idempotencyKey);
    try {
      return await run({ headers, timeoutMs: ctx.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    } catch (err) {
      throw errorFromConnect(err, ctx.requestId);
    }
  }

  createPayout(params: Parameters<Backend["createPayout"]>[0], ctx: CallContext) {
    return this.#call(ctx, async (options) => {
      const res = await this.#payouts.createPayout(
        {
          idempotencyKey: ctx.idempotencyKey ?? "",
          merchantReference: params.merchantReference,
          amount: { currency: params.currency, minorUnits: toMinorUnits(params.amount, params.currency) },
          destType: DestinationType.BANK,
          bankCode: params.bankCode,
          accountNumber: params.accountNumber,
          accountTitle: params.accountTitle,
        },
        options,
      );
      return payoutView(res.payout!);
    });
  }

  getPayout(id: string, ctx: CallContext) {
    return this.#call(ctx, async (o) => payoutView((await this.#payouts.getPayout({ id }, o)).payout!));
  }

  listPayouts(params: Parameters<Backend["listPayouts"]>[0], ctx: CallContext) {
    const statuses = params.status === undefined ? [] : [params.status].flat();
    return this.#call(ctx, async (o) => {
      const res = await this.#payouts.listPayouts(
        {
          filter: {
            statuses: statuses.map(statusNumber),
            createdAfter: toTimestamp(params.createdAfter),
            createdBefore: toTimestamp(params.createdBefore),
          },
          page: { limit: params.limit ?? 0, startingAfter: params.startingAfter ?? "" },
        },
        o,
      );
      return { data: res.payouts.map(payoutView), hasMore: res.hasMore };
    });
  }

  cancelPayout(id: string, reason: string, ctx: CallContext) {
    return this.#call(ctx, async (o) => payoutView((await this.#payouts.cancelPayout({ id, reason }, o)).payout!));
  }

  payoutHistory(id: string, ctx: CallContext) {
    return this.#call(ctx, async (o) => {
      const res = await this.#payouts.getPayoutHistory({ id }, o);
      return res.transitions.map((t) => ({
        from: t.from === PayoutStatusEnum.UNSPECIFIED ? null : statusName(t.from),
        to: statusName(t.to),
        reason: t.reason,
        actor: t.actor,
        at: iso(t.at),
      }));
    });
  }

  getBalance(currency: string, ctx: CallContext) {
    return this.#call(ctx, async (o) => {
      const b = (await this.#balance.getMyBalance({ currency }, o)).balance!;
      const c = b.currency || currency;
      return {
        currency: c,
        balance: fromMinorUnits(b.balanceMinor, c),
        locked: fromMinorUnits(b.lockedMinor, c),
        available: fromMinorUnits(b.availableMinor, c),
      };
    });
  }

  listEntries(params: Parameters<Backend["listEntries"]>[0], ctx: CallContext) {
    return this.#call(ctx, async (o) => {
      const res = await this.#balance.listMyEntries(
        {
          account: params.account ? AccountKind[params.account] : AccountKind.UNSPECIFIED,
          currency: params.currency ?? "",
          page: { limit: params.limit ?? 0, startingAfter: params.startingAfter ?? "" },
        },
        o,
      );
      return { data: res.entries.map(entryView), hasMore: res.hasMore };
    });
  }

  createEndpoint(params: Parameters<Backend["createEndpoint"]>[0], ctx: CallContext) {
    return this.#call(ctx, async (o) => {
      const res = await this.#webhooks.createEndpoint(
        { url: params.url, description: params.description ?? "", eventTypes: params.eventTypes ?? [] },
        o,
      );
      return { ...endpointView(res.endpoint!), secret: res.secret };
    });
  }

  getEndpoint(id: string, ctx: CallContext) {
    return this.#call(ctx, async (o) => endpointView((await this.#webhooks.getEndpoint({ id }, o)).endpoint!));
  }

  listEndpoints(params: Parameters<Backend["listEndpoints"]>[0], ctx: CallContext) {
    return this.#call(ctx, async (o) => {
      const res = await this.#webhooks.listEndpoints(
        { page: { limit: params.limit ?? 0, startingAfter: params.startingAfter ?? "" } },
        o,
      );
      return { data: res.endpoints.map(endpointView), hasMore: res.hasMore };
    });
  }

  updateEndpoint(id: string, params: Parameters<Backend["updateEndpoint"]>[1], ctx: CallContext) {
    const mask: Record<string, string> = {
      url: "url",
      description: "description",
      eventTypes: "event_types",
      enabled: "enabled",
    };
    return this.#call(ctx, async (o) => {
      const res = await this.#webhooks.updateEndpoint(
        {
          id,
          updateMask: Object.keys(params)
            .filter((k) => k in mask && params[k as keyof typeof params] !== undefined)
            .map((k) => mask[k]!),
          url: params.url ?? "",
          description: params.description ?? "",
          eventTypes: params.eventTypes ?? [],
          enabled: params.enabled ?? false,
        },
        o,
      );
      return endpointView(res.endpoint!);
    });
  }

  deleteEndpoint(id: string, ctx: CallContext) {
    return this.#call(ctx, async (o) => {
      await this.#webhooks.deleteEndpoint({ id }, o);
    });
  }

  rotateSecret(id: string, ctx: CallContext) {
    return this.#call(ctx, async (o) => {
      const res = await this.#webhooks.rotateSecret({ id }, o);
      return {
        ...endpointView(res.endpoint!),
        secret: res.secret,
        previousSecretExpiresAt: iso(res.previousSecretExpiresAt),
      };
    });
  }

  listMessages(params: Parameters<Backend["listMessages"]>[0], ctx: CallContext) {
    return this.#call(ctx, async (o) => {
      const res = await this.#webhooks.listMessages(
        {
          endpointId: params.endpointId ?? "",
          status: params.status ? MessageStatus[params.status] : MessageStatus.UNSPECIFIED,
          subjectId: params.payoutId ?? "",
          page: { limit: params.limit ?? 0, startingAfter: params.startingAfter ?? "" },
        },
        o,
      );
      return { data: res.messages.map(messageView), hasMore: res.hasMore };
    });
  }

  listAttempts(messageId: string, params: Parameters<Backend["listAttempts"]>[1], ctx: CallContext) {
    return this.#call(ctx, async (o) => {
      const res = await this.#webhooks.listAttempts(
        { messageId, page: { limit: params.limit ?? 0, startingAfter: params.startingAfter ?? "" } },
        o,
      );
      return { data: res.attempts.map(attemptView), hasMore: res.hasMore };
    });
  }

  replayMessage(messageId: string, ctx: CallContext) {
    return this.#call(ctx, async (o) => messageView((await this.#webhooks.replayMessage({ messageId }, o)).message!));
  }

  close() {
    return this.#close();
  }
}
