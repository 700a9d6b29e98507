import { Code } from "@connectrpc/connect";
import { InvalidRequestError } from "./errors.ts";
import { newIdempotencyKey, randomHex } from "./ids.ts";
import { toMinorUnits } from "./money.ts";
import { PageIterator } from "./pagination.ts";
import type { Backend, CallContext } from "./private/backend.ts";
import { type RetryPolicy, withRetries } from "./private/retry.ts";
import { createBackend, type TransportName } from "./private/transports.ts";
import type {
  Balance,
  CreatePayoutParams,
  CreateWebhookEndpointParams,
  IdempotentRequestOptions,
  LedgerEntry,
  ListEntriesParams,
  ListMessagesParams,
  ListPayoutsParams,
  Payout,
  PayoutTransition,
  RequestOptions,
  UpdateWebhookEndpointParams,
  WebhookAttempt,
  WebhookEndpoint,
  WebhookEndpointWithSecret,
  WebhookMessage,
} from "./types.ts";
import { webhooks } from "./webhooks.ts";

export type { TransportName };

/** The SDK's version, sent to the gateway in `x-mypay-client`. */
export const VERSION = "0.1.0";

/** Options of {@link MyPay}. Only `apiKey` is required. */
export interface MyPayOptions {
  /** Secret API key (`mypay_test_…` in the sandbox). Keep it on your server. */
  apiKey: string;
  /** Gateway address; default `http://127.0.0.1:8080` (the local sandbox mesh). */
  baseUrl?: string;
  /**
   * `"connect"` (default; Connect protocol over fetch, any runtime), `"grpc-web"` (fetch, any runtime),
   * `"grpc"` (HTTP/2, Node.js only; needs `@connectrpc/connect-node`) or `"rest"` (JSON over HTTP/1.1).
   */
  transport?: TransportName;
  /** Limit of each attempt, in milliseconds (default 30,000). */
  timeoutMs?: number;
  /** Retries of idempotent and keyed calls on connection errors, 429 and 5xx (default 2). */
  maxRetries?: number;
  /** First retry backoff in milliseconds, doubling each retry (default 500). */
  retryBaseDelayMs?: number;
  /** Longest backoff in milliseconds (default 8,000). */
  retryMaxDelayMs?: number;
  /** Longest `Retry-After` the SDK waits for itself, in milliseconds (default 60,000); longer ones are thrown. */
  maxRetryAfterMs?: number;
  /** A fetch implementation for the `connect`, `grpc-web` and `rest` transports (default: the global one). */
  fetch?: typeof fetch;
}

interface ResolvedOptions {
  apiKey: string;
  baseUrl: string;
  transport: TransportName;
  timeoutMs: number;
  retry: RetryPolicy;
  fetch: typeof fetch | undefined;
}

const TRANSPORTS: readonly TransportName[] = ["connect", "grpc", "grpc-web", "rest"];

function positiveInteger(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new TypeError(`MyPay: ${name} must be an integer ≥ ${min}`);
  return value;
}

/** Every option checked and defaulted in one place. */
function resolveOptions(options: MyPayOptions): ResolvedOptions {
  if (!options || typeof options.apiKey !== "string" || options.apiKey.trim() === "") {
    throw new TypeError("MyPay: apiKey is required");
  }
  const baseUrl = options.baseUrl ?? "http://127.0.0.1:8080";
  if (!/^https?:\/\/[^/]+/.test(baseUrl)) throw new TypeError(`MyPay: baseUrl must be an http(s) URL, got ${baseUrl}`);
  const transport = options.transport ?? "connect";
  if (!TRANSPORTS.includes(transport)) {
    throw new TypeError(`MyPay: transport must be one of ${TRANSPORTS.join(", ")}, got ${transport}`);
  }
  return {
    apiKey: options.apiKey,
    baseUrl: baseUrl.replace(/\/+$/, ""),
    transport,
    timeoutMs: positiveInteger("timeoutMs", options.timeoutMs, 30_000),
    retry: {
      maxRetries: positiveInteger("maxRetries", options.maxRetries, 2, 0),
      baseDelayMs: positiveInteger("retryBaseDelayMs", options.retryBaseDelayMs, 500, 0),
      maxDelayMs: positiveInteger("retryMaxDelayMs", options.retryMaxDelayMs, 8_000, 0),
      maxRetryAfterMs: positiveInteger("maxRetryAfterMs", options.maxRetryAfterMs, 60_000, 0),
    },
    fetch: options.fetch,
  };
}

/** A fresh request id, shared by every attempt of one logical call. */
export function newRequestId(): string {
  return `req_${randomHex()}`;
}

/** Runs one logical call: its retries share the request id and idempotency key. */
type Runner = <T>(
  options: RequestOptions & { idempotencyKey?: string },
  retryable: boolean,
  call: (backend: Backend, ctx: CallContext) => Promise<T>,
) => Promise<T>;

/** `mypay.payouts`: create, read, list, cancel and audit payouts. */
export class Payouts {
  readonly #run: Runner;

  constructor(run: Runner) {
    this.#run = run;
  }

  /**
   * Creates a payout and locks its amount in your balance. Safe to retry: the idempotency key (yours,
   * or one the SDK generates) is reused across the SDK's retries, so one call never pays twice.
   * Throws `InvalidRequestError` (bad field, `param` says which), `InsufficientFundsError`,
   * `IdempotencyError` (same key, other body), `AuthenticationError`, `RateLimitError`, `ApiConnectionError`.
   */
  create(params: CreatePayoutParams, options: IdempotentRequestOptions = {}): Promise<Payout> {
    try {
      toMinorUnits(params.amount, params.currency ?? "");
    } catch (err) {
      return Promise.reject(
        new InvalidRequestError(`amount: ${(err as Error).message}`, {
          code: "INVALID_ARGUMENT",
          rpcCode: Code.InvalidArgument,
          param: "amount",
        }),
      );
    }
    const idempotencyKey = options.idempotencyKey ?? newIdempotencyKey();
    const full = { destType: "BANK" as const, ...params };
    return this.#run({ ...options, idempotencyKey }, true, (b, ctx) => b.createPayout(full, ctx));
  }

  /** Reads one of your payouts. Throws `NotFoundError` for an unknown id (or another merchant's). */
  get(id: string, options: RequestOptions = {}): Promise<Payout> {
    return this.#run(options, true, (b, ctx) => b.getPayout(id, ctx));
  }

  /**
   * Lists your payouts, newest first. `for await (const page of mypay.payouts.list())` walks pages;
   * `.items()` walks payouts across pages. Pages are fetched lazily.
   */
  list(params: ListPayoutsParams = {}, options: RequestOptions = {}): PageIterator<Payout> {
    return new PageIterator(
      (startingAfter) =>
        this.#run(options, true, (b, ctx) =>
          b.listPayouts({ ...params, ...(startingAfter ? { startingAfter } : {}) }, ctx),
        ),
      params.startingAfter,
    );
  }

  /**
   * Cancels a `PENDING`, `IN_REVIEW` or `ON_HOLD` payout and releases its funds. Not retried by the
   * SDK (a repeat after an unseen success would fail as an illegal transition): read the payout instead.
   */
  cancel(id: string, params: { reason?: string } = {}, options: RequestOptions = {}): Promise<Payout> {
    return this.#run(options, false, (b, ctx) => b.cancelPayout(id, params.reason ?? "", ctx));
  }

  /** Every status change of a payout, oldest first, with reason and actor. */
  history(id: string, options: RequestOptions = {}): Promise<PayoutTransition[]> {
    return this.#run(options, true, (b, ctx) => b.payoutHistory(id, ctx));
  }
}

/** `mypay.balance`: your balance and ledger entries. */
export class BalanceResource {
  readonly #run: Runner;

  constructor(run: Runner) {
    this.#run = run;
  }

  /** Your balance in one currency (default PKR): `balance` = `available` + `locked`, decimal strings. */
  get(params: { currency?: string } = {}, options: RequestOptions = {}): Promise<Balance> {
    return this.#run(options, true, (b, ctx) => b.getBalance((params.currency ?? "PKR").toUpperCase(), ctx));
  }

  /** Your ledger entries, newest first, page by page. */
  entries(params: ListEntriesParams = {}, options: RequestOptions = {}): PageIterator<LedgerEntry> {
    return new PageIterator(
      (startingAfter) =>
        this.#run(options, true, (b, ctx) =>
          b.listEntries({ ...params, ...(startingAfter ? { startingAfter } : {}) }, ctx),
        ),
      params.startingAfter,
    );
  }
}

/** `mypay.webhookEndpoints`: where your webhooks go, their secrets and deliveries. */
export class WebhookEndpoints {
  readonly #run: Runner;

  constructor(run: Runner) {
    this.#run = run;
  }

  /** Registers an endpoint. The returned `secret` (`whsec_…`) is shown only here and on rotation: store it. */
  create(params: CreateWebhookEndpointParams, options: RequestOptions = {}): Promise<WebhookEndpointWithSecret> {
    return this.#run(options, false, (b, ctx) => b.createEndpoint(params, ctx));
  }

  /** Reads one endpoint (without its secret). Throws `NotFoundError` for an unknown id. */
  get(id: string, options: RequestOptions = {}): Promise<WebhookEndpoint> {
    return this.#run(options, true, (b, ctx) => b.getEndpoint(id, ctx));
  }

  /** Your endpoints, page by page. */
  list(params: { limit?: number; startingAfter?: string } = {}, options: RequestOptions = {}) {
    return new PageIterator<WebhookEndpoint>(
      (startingAfter) =>
        this.#run(options, true, (b, ctx) =>
          b.listEndpoints({ ...params, ...(startingAfter ? { startingAfter } : {}) }, ctx),
        ),
      params.startingAfter,
    );
  }

  /** Changes the given fields (url, description, eventTypes, enabled); idempotent, so retried. */
  update(id: string, params: UpdateWebhookEndpointParams, options: RequestOptions = {}): Promise<WebhookEndpoint> {
    return this.#run(options, true, (b, ctx) => b.updateEndpoint(id, params, ctx));
  }

  /** Deletes an endpoint; nothing more is delivered to it. */
  delete(id: string, options: RequestOptions = {}): Promise<void> {
    return this.#run(options, false, (b, ctx) => b.deleteEndpoint(id, ctx));
  }

  /** A new secret; the previous one keeps signing alongside it until `previousSecretExpiresAt`. */
  rotateSecret(id: string, options: RequestOptions = {}): Promise<WebhookEndpointWithSecret> {
    return this.#run(options, false, (b, ctx) => b.rotateSecret(id, ctx));
  }

  /** Messages (one event to one endpoint) with their delivery state, newest first. */
  messages(params: ListMessagesParams = {}, options: RequestOptions = {}): PageIterator<WebhookMessage> {
    return new PageIterator(
      (startingAfter) =>
        this.#run(options, true, (b, ctx) =>
          b.listMessages({ ...params, ...(startingAfter ? { startingAfter } : {}) }, ctx),
        ),
      params.startingAfter,
    );
  }

  /** Delivery attempts of one message. */
  attempts(messageId: string, options: RequestOptions = {}): PageIterator<WebhookAttempt> {
    return new PageIterator((startingAfter) =>
      this.#run(options, true, (b, ctx) => b.listAttempts(messageId, startingAfter ? { startingAfter } : {}, ctx)),
    );
  }

  /** Delivers a message again, with the same `webhook-id` (receivers that dedupe on it stay correct). */
  replay(messageId: string, options: RequestOptions = {}): Promise<WebhookMessage> {
    return this.#run(options, false, (b, ctx) => b.replayMessage(messageId, ctx));
  }
}

/**
 * The MyPay API client.
 *
 * ```ts
 * const mypay = new MyPay({ apiKey: process.env.MYPAY_API_KEY! });
 * const payout = await mypay.payouts.create({ amount: "1000.00", currency: "PKR", … });
 * ```
 *
 * Every method throws a {@link MyPayError} subclass on failure. Reads, keyed creates and idempotent
 * updates are retried on connection errors, 429 and 5xx with exponential backoff honouring `Retry-After`.
 */
export class MyPay {
  /** Payouts: create, get, list, cancel, history. */
  readonly payouts: Payouts;
  /** Balance and ledger entries. */
  readonly balance: BalanceResource;
  /** Webhook endpoints, their secrets, messages and replays. */
  readonly webhookEndpoints: WebhookEndpoints;
  /** Webhook verification and signing helpers (same as the `webhooks` export). */
  readonly webhooks = webhooks;
  /** The transport in use. */
  readonly transport: TransportName;
  readonly #options: ResolvedOptions;
  #backend: Promise<Backend> | undefined;

  /** Throws `TypeError` for invalid options; makes no network call. */
  constructor(options: MyPayOptions) {
    this.#options = resolveOptions(options);
    this.transport = this.#options.transport;
    const run: Runner = (callOptions, retryable, call) => this.#call(callOptions, retryable, call);
    this.payouts = new Payouts(run);
    this.balance = new BalanceResource(run);
    this.webhookEndpoints = new WebhookEndpoints(run);
  }

  #getBackend(): Promise<Backend> {
    this.#backend ??= createBackend({
      transport: this.#options.transport,
      baseUrl: this.#options.baseUrl,
      apiKey: this.#options.apiKey,
      userAgent: `mypay-node/${VERSION}`,
      ...(this.#options.fetch ? { fetch: this.#options.fetch } : {}),
    });
    return this.#backend;
  }

  async #call<T>(
    options: RequestOptions & { idempotencyKey?: string },
    retryable: boolean,
    call: (backend: Backend, ctx: CallContext) => Promise<T>,
  ): Promise<T> {
    const backend = await this.#getBackend();
    const ctx: CallContext = {
      requestId: newRequestId(),
      timeoutMs: options.timeoutMs ?? this.#options.timeoutMs,
      ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    const policy = { ...this.#options.retry, maxRetries: options.maxRetries ?? this.#options.retry.maxRetries };
    return withRetries(() => call(backend, ctx), policy, retryable, options.signal);
  }

  /** Releases connections (the `grpc` transport keeps an HTTP/2 session open); the client is unusable after. */
  async close(): Promise<void> {
    const backend = this.#backend;
    this.#backend = undefined;
    if (backend) await (await backend).close();
  }
}
