import { Code } from "@connectrpc/connect";
import { newRequestId, VERSION } from "./client.ts";
import { InvalidRequestError } from "./errors.ts";
import { newIdempotencyKey } from "./ids.ts";
import { toMinorUnits } from "./money.ts";
import { PageIterator } from "./pagination.ts";
import type { CallContext } from "./private/backend.ts";
import { RestBackend } from "./private/rest-backend.ts";
import { type RetryPolicy, withRetries } from "./private/retry.ts";
import type { Payout, PayoutStatus, RequestOptions, WebhookMessage } from "./types.ts";

/** Options of {@link MyPayAdmin}. Only `adminKey` is required. */
export interface MyPayAdminOptions {
  /** The operations key (`mypay_admin_…`). Never ship it to merchants. */
  adminKey: string;
  /** Gateway address; default `http://127.0.0.1:8080`. */
  baseUrl?: string;
  /** Limit of each attempt, in milliseconds (default 30,000). */
  timeoutMs?: number;
  /** Retries of reads and keyed top-ups on connection errors, 429 and 5xx (default 2). */
  maxRetries?: number;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

/** A merchant account. */
export interface Merchant {
  id: string;
  name: string;
  createdAt: string | null;
}

/** An API key as listed: never its secret. */
export interface ApiKey {
  id: string;
  merchantId: string;
  /** The key's first characters, to tell keys apart. */
  prefix: string;
  createdAt: string | null;
  revokedAt: string | null;
}

/** A new API key with its secret (`mypay_test_…`), shown only once. */
export interface ApiKeyWithSecret extends ApiKey {
  key: string;
}

/** A merchant's balance after a top-up. */
export interface TopUpResult {
  merchantId: string;
  currency: string;
  balance: string;
  locked: string;
  available: string;
}

/** A dead-lettered webhook message, with the merchant it belongs to. */
export interface DeadLetter extends WebhookMessage {
  merchantId: string;
}

/** One service in {@link MeshStatus}. */
export interface ServiceHealth {
  name: string;
  status: "ready" | "not_ready" | "unreachable";
  latencyMs: number;
}

/** The mesh as the gateway sees it. */
export interface MeshStatus {
  checkedAt: string;
  services: ServiceHealth[];
  /** Age of the oldest due payout, in seconds; null when the payouts service cannot be asked. */
  processorLagSeconds: number | null;
  /** Payout events not yet relayed to the notifier; null when unknown. */
  outboxBacklog: number | null;
}

interface AdminPageParams {
  limit?: number;
  startingAfter?: string;
}

type Query = Record<string, string | number | undefined>;

/** Runs one logical admin call over REST with the client's retry policy. */
type AdminRunner = <T>(
  options: RequestOptions & { idempotencyKey?: string },
  retryable: boolean,
  method: string,
  path: string,
  body?: unknown,
  query?: Query,
) => Promise<T>;

const enc = encodeURIComponent;

function requireReason(reason: string | undefined, what: string): Promise<never> | undefined {
  if (reason?.trim()) return undefined;
  return Promise.reject(
    new InvalidRequestError(`reason: required to ${what}`, {
      code: "INVALID_ARGUMENT",
      rpcCode: Code.InvalidArgument,
      param: "reason",
    }),
  );
}

/** `admin.payouts`: every merchant's payouts, the review queue and the decisions on it. */
export class AdminPayouts {
  readonly #run: AdminRunner;

  constructor(run: AdminRunner) {
    this.#run = run;
  }

  /** Payouts of every merchant (or one), newest first, optionally by status. */
  list(
    params: AdminPageParams & { status?: PayoutStatus | PayoutStatus[]; merchantId?: string } = {},
    options: RequestOptions = {},
  ): PageIterator<Payout> {
    const status = params.status === undefined ? undefined : [params.status].flat().join(",");
    return new PageIterator(
      (startingAfter) =>
        this.#run(options, true, "GET", "/api/v1/admin/payouts", undefined, {
          status,
          merchantId: params.merchantId,
          limit: params.limit,
          startingAfter,
        }),
      params.startingAfter,
    );
  }

  /** Payouts waiting for a reviewer (`IN_REVIEW`), newest first. */
  reviewQueue(params: AdminPageParams & { merchantId?: string } = {}, options: RequestOptions = {}) {
    return new PageIterator<Payout>(
      (startingAfter) =>
        this.#run(options, true, "GET", "/api/v1/admin/review-queue", undefined, {
          merchantId: params.merchantId,
          limit: params.limit,
          startingAfter,
        }),
      params.startingAfter,
    );
  }

  /** `IN_REVIEW → PENDING`: the processor pays it next. Throws `MyPayError` `FAILED_PRECONDITION` from any other status. */
  approve(id: string, params: { reason?: string } = {}, options: RequestOptions = {}): Promise<Payout> {
    return this.#decide(id, "approve", params.reason, options);
  }

  /** `IN_REVIEW → FAILED` and the funds are released. `reason` is required (recorded in the audit trail). */
  reject(id: string, params: { reason: string }, options: RequestOptions = {}): Promise<Payout> {
    return requireReason(params.reason, "reject a payout") ?? this.#decide(id, "reject", params.reason, options);
  }

  /** `ON_HOLD → PENDING`: the bank is asked again. */
  releaseHold(id: string, params: { reason?: string } = {}, options: RequestOptions = {}): Promise<Payout> {
    return this.#decide(id, "release-hold", params.reason, options);
  }

  /** `ON_HOLD → FAILED` and the funds are released. `reason` is required. */
  failHold(id: string, params: { reason: string }, options: RequestOptions = {}): Promise<Payout> {
    return requireReason(params.reason, "fail a held payout") ?? this.#decide(id, "fail-hold", params.reason, options);
  }

  // Decisions are not retried: a repeat after an unseen success fails as an illegal transition.
  #decide(id: string, action: string, reason: string | undefined, options: RequestOptions): Promise<Payout> {
    return this.#run(options, false, "POST", `/api/v1/admin/payouts/${enc(id)}/${action}`, reason ? { reason } : {});
  }
}

/** `admin.merchants`: merchant accounts and their top-ups. */
export class AdminMerchants {
  readonly #run: AdminRunner;

  constructor(run: AdminRunner) {
    this.#run = run;
  }

  /** Creates a merchant (id generated when omitted). Throws `MyPayError` `ALREADY_EXISTS` for a taken id. */
  create(params: { name: string; id?: string }, options: RequestOptions = {}): Promise<Merchant> {
    return this.#run(options, false, "POST", "/api/v1/admin/merchants", params);
  }

  /** Merchants, page by page. */
  list(params: AdminPageParams = {}, options: RequestOptions = {}): PageIterator<Merchant> {
    return new PageIterator(
      (startingAfter) =>
        this.#run(options, true, "GET", "/api/v1/admin/merchants", undefined, { limit: params.limit, startingAfter }),
      params.startingAfter,
    );
  }

  /**
   * Adds funds to a merchant's available balance. Keyed like a payout create (the key is generated when
   * omitted and reused across retries), so one call never credits twice. Throws `NotFoundError` for an
   * unknown merchant and `InvalidRequestError` for a bad amount.
   */
  topUp(
    merchantId: string,
    params: { amount: string; currency: string },
    options: RequestOptions & { idempotencyKey?: string } = {},
  ): Promise<TopUpResult> {
    try {
      toMinorUnits(params.amount, params.currency);
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
    return this.#run(
      { ...options, idempotencyKey },
      true,
      "POST",
      `/api/v1/admin/merchants/${enc(merchantId)}/top-ups`,
      params,
    );
  }
}

/** `admin.apiKeys`: merchants' API keys. */
export class AdminApiKeys {
  readonly #run: AdminRunner;

  constructor(run: AdminRunner) {
    this.#run = run;
  }

  /** A new key for a merchant; its secret is in the answer only. */
  create(merchantId: string, options: RequestOptions = {}): Promise<ApiKeyWithSecret> {
    return this.#run(options, false, "POST", `/api/v1/admin/merchants/${enc(merchantId)}/api-keys`, {});
  }

  /** Keys (of every merchant, or one), page by page. */
  list(params: AdminPageParams & { merchantId?: string } = {}, options: RequestOptions = {}): PageIterator<ApiKey> {
    return new PageIterator(
      (startingAfter) =>
        this.#run(options, true, "GET", "/api/v1/admin/api-keys", undefined, {
          merchantId: params.merchantId,
          limit: params.limit,
          startingAfter,
        }),
      params.startingAfter,
    );
  }

  /** Revokes a key at once (every gateway stops accepting it within its auth cache time, ≤ 1 s). */
  revoke(id: string, options: RequestOptions = {}): Promise<ApiKey> {
    return this.#run(options, true, "POST", `/api/v1/admin/api-keys/${enc(id)}/revoke`, {});
  }
}

/** `admin.deadLetters`: webhook messages whose every attempt failed. */
export class AdminDeadLetters {
  readonly #run: AdminRunner;

  constructor(run: AdminRunner) {
    this.#run = run;
  }

  /** Dead-lettered messages of every merchant (or one), page by page. */
  list(params: AdminPageParams & { merchantId?: string } = {}, options: RequestOptions = {}) {
    return new PageIterator<DeadLetter>(
      (startingAfter) =>
        this.#run(options, true, "GET", "/api/v1/admin/dead-letters", undefined, {
          merchantId: params.merchantId,
          limit: params.limit,
          startingAfter,
        }),
      params.startingAfter,
    );
  }

  /** Puts failed and dead-lettered messages created since `since` back in the queue; answers how many. */
  replay(params: { since: Date | string; merchantId?: string }, options: RequestOptions = {}) {
    return this.#run<{ requeued: number }>(options, false, "POST", "/api/v1/admin/dead-letters/replay", {
      since: new Date(params.since).toISOString(),
      ...(params.merchantId ? { merchantId: params.merchantId } : {}),
    });
  }
}

/**
 * The operations client: review decisions, on-hold payouts, merchants, API keys, top-ups, dead letters
 * and mesh status, over the gateway's admin REST API (these operations have no RPC form).
 *
 * ```ts
 * const admin = new MyPayAdmin({ adminKey: process.env.MYPAY_ADMIN_KEY! });
 * for await (const payout of admin.payouts.reviewQueue().items()) await admin.payouts.approve(payout.id);
 * ```
 *
 * Every method throws a `MyPayError` subclass on failure (`AuthenticationError` for a wrong key).
 */
export class MyPayAdmin {
  readonly payouts: AdminPayouts;
  readonly merchants: AdminMerchants;
  readonly apiKeys: AdminApiKeys;
  readonly deadLetters: AdminDeadLetters;
  readonly #backend: RestBackend;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;

  /** Throws `TypeError` for invalid options; makes no network call. */
  constructor(options: MyPayAdminOptions) {
    if (!options || typeof options.adminKey !== "string" || options.adminKey.trim() === "") {
      throw new TypeError("MyPayAdmin: adminKey is required");
    }
    const baseUrl = options.baseUrl ?? "http://127.0.0.1:8080";
    if (!/^https?:\/\/[^/]+/.test(baseUrl)) {
      throw new TypeError(`MyPayAdmin: baseUrl must be an http(s) URL, got ${baseUrl}`);
    }
    const maxRetries = options.maxRetries ?? 2;
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new TypeError("MyPayAdmin: maxRetries must be ≥ 0");
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new TypeError("MyPayAdmin: timeoutMs must be ≥ 1");
    this.#timeoutMs = timeoutMs;
    // The same backoff as the merchant client's defaults.
    this.#retry = { maxRetries, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 };
    this.#backend = new RestBackend(baseUrl, options.adminKey, `mypay-admin/${VERSION}`, options.fetch);
    const run: AdminRunner = (callOptions, retryable, method, path, body, query) =>
      this.#call(callOptions, retryable, method, path, body, query);
    this.payouts = new AdminPayouts(run);
    this.merchants = new AdminMerchants(run);
    this.apiKeys = new AdminApiKeys(run);
    this.deadLetters = new AdminDeadLetters(run);
  }

  /** Each service's readiness and probe latency, the payout processor's lag and the outbox backlog. */
  meshStatus(options: RequestOptions = {}): Promise<MeshStatus> {
    return this.#call(options, true, "GET", "/api/v1/admin/mesh-status");
  }

  #call<T>(
    options: RequestOptions & { idempotencyKey?: string },
    retryable: boolean,
    method: string,
    path: string,
    body?: unknown,
    query: Query = {},
  ): Promise<T> {
    const ctx: CallContext = {
      requestId: newRequestId(),
      timeoutMs: options.timeoutMs ?? this.#timeoutMs,
      ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    const policy = { ...this.#retry, maxRetries: options.maxRetries ?? this.#retry.maxRetries };
    return withRetries(
      () => this.#backend.request<T>(method, path, ctx, body, query),
      policy,
      retryable,
      options.signal,
    );
  }
}
