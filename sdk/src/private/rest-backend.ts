import { Code } from "@connectrpc/connect";
import { codeFromHttpStatus, createError, type MyPayError, parseRetryAfter } from "../errors.ts";
import { formatAmount } from "../money.ts";
import type { Page, WebhookEndpoint, WebhookEndpointWithSecret } from "../types.ts";
import type { Backend, CallContext, PageParams } from "./backend.ts";

type Query = Record<string, string | number | undefined>;

/** Turns an aborted or failed fetch into the SDK's typed error. */
export function errorFromFetch(err: unknown, ctx: CallContext): MyPayError {
  const name = err instanceof Error ? err.name : "";
  if (ctx.signal?.aborted) {
    return createError("the call was aborted", {
      code: "CANCELED",
      rpcCode: Code.Canceled,
      requestId: ctx.requestId,
      cause: err,
    });
  }
  if (name === "TimeoutError" || name === "AbortError") {
    return createError(`no answer within ${ctx.timeoutMs} ms`, {
      code: "TIMEOUT",
      rpcCode: Code.DeadlineExceeded,
      requestId: ctx.requestId,
      cause: err,
    });
  }
  const detail = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
  return createError(`could not reach the MyPay API: ${detail}`, {
    code: "CONNECTION_ERROR",
    rpcCode: Code.Unavailable,
    requestId: ctx.requestId,
    cause: err,
  });
}

/** Turns a non-2xx REST answer (`{"error":{type,code,message,param,requestId}}`) into the SDK's typed error. */
export function errorFromResponse(res: Response, body: unknown, ctx: CallContext): MyPayError {
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error ?? {};
  const text = (key: string) => (typeof error[key] === "string" ? (error[key] as string) : undefined);
  const rpcCode = codeFromHttpStatus(res.status);
  const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
  const param = text("param");
  return createError(text("message") ?? `HTTP ${res.status}`, {
    code: (text("code") ?? `http_${res.status}`).toUpperCase(),
    rpcCode,
    httpStatus: res.status,
    requestId: text("requestId") ?? res.headers.get("x-request-id") ?? ctx.requestId,
    ...(param ? { param } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

function pageOf<T>(body: unknown): Page<T> {
  const object = body as Record<string, unknown>;
  const data = Array.isArray(body) ? body : (object.data ?? Object.values(object).find(Array.isArray) ?? []);
  return { data: data as T[], hasMore: object.hasMore === true };
}

function endpointOf(body: Record<string, unknown>): WebhookEndpoint {
  return {
    id: String(body.id),
    url: String(body.url),
    description: (body.description as string) ?? "",
    eventTypes: (body.eventTypes as string[]) ?? [],
    enabled: body.enabled !== false,
    disabledReason: (body.disabledReason as string) || null,
    createdAt: (body.createdAt as string) ?? null,
    updatedAt: (body.updatedAt as string) ?? null,
  };
}

/** The API over the gateway's REST routes (JSON over HTTP/1.1), for runtimes without HTTP/2 or Connect. */
export class RestBackend implements Backend {
  readonly #baseUrl: string;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;

  constructor(baseUrl: string, apiKey: string, userAgent: string, fetchImpl?: typeof fetch) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#apiKey = apiKey;
    this.#userAgent = userAgent;
    // Called as a plain function: browsers refuse a fetch invoked as a method of another object.
    const impl = fetchImpl ?? globalThis.fetch;
    this.#fetch = (input, init) => impl(input, init);
  }

  /** Any REST route (the admin client's too): the parsed JSON answer, or the SDK's typed error. */
  request<T>(method: string, path: string, ctx: CallContext, body?: unknown, query: Query = {}): Promise<T> {
    return this.#request<T>(method, path, ctx, body, query);
  }

  async #request<T>(method: string, path: string, ctx: CallContext, body?: unknown, query: Query = {}): Promise<T> {
    const url = new URL(`${this.#baseUrl}${path}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    const headers = new Headers({
      accept: "application/json",
      "x-api-key": this.#apiKey,
      "x-request-id": ctx.requestId,
      "x-mypay-client": this.#userAgent,
    });
    if (ctx.idempotencyKey) headers.set("x-idempotency-key", ctx.idempotencyKey);
    if (body !== undefined) headers.set("content-type", "application/json");
    const timeout = AbortSignal.timeout(ctx.timeoutMs);
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout,
      });
    } catch (err) {
      throw errorFromFetch(err, ctx);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw errorFromFetch(err, ctx);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw errorFromResponse(res, parsed, ctx);
    return parsed as T;
  }

  createPayout(params: Parameters<Backend["createPayout"]>[0], ctx: CallContext) {
    return this.#request<Awaited<ReturnType<Backend["createPayout"]>>>("POST", "/api/v1/payouts", ctx, {
      ...params,
      amount: formatAmount(params.amount, params.currency),
    });
  }

  getPayout(id: string, ctx: CallContext) {
    return this.#request<Awaited<ReturnType<Backend["getPayout"]>>>("GET", `/api/v1/payouts/${enc(id)}`, ctx);
  }

  async listPayouts(params: Parameters<Backend["listPayouts"]>[0], ctx: CallContext) {
    const status = params.status === undefined ? undefined : [params.status].flat().join(",");
    const when = (t: Date | string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
    return pageOf<Awaited<ReturnType<Backend["getPayout"]>>>(
      await this.#request("GET", "/api/v1/payouts", ctx, undefined, {
        status,
        limit: params.limit,
        startingAfter: params.startingAfter,
        createdAfter: when(params.createdAfter),
        createdBefore: when(params.createdBefore),
      }),
    );
  }

  cancelPayout(id: string, reason: string, ctx: CallContext) {
    return this.#request<Awaited<ReturnType<Backend["cancelPayout"]>>>(
      "POST",
      `/api/v1/payouts/${enc(id)}/cancel`,
      ctx,
      reason ? { reason } : {},
    );
  }

  async payoutHistory(id: string, ctx: CallContext) {
    const { data } = pageOf<Awaited<ReturnType<Backend["payoutHistory"]>>[number]>(
      await this.#request("GET", `/api/v1/payouts/${enc(id)}/history`, ctx),
    );
    // The first transition has no `from`; REST names it UNSPECIFIED, the SDK says null on every transport.
    return data.map((t) => ({ ...t, from: (t.from as string) === "UNSPECIFIED" ? null : t.from }));
  }

  getBalance(currency: string, ctx: CallContext) {
    return this.#request<Awaited<ReturnType<Backend["getBalance"]>>>("GET", "/api/v1/balance", ctx, undefined, {
      currency,
    });
  }

  async listEntries(params: Parameters<Backend["listEntries"]>[0], ctx: CallContext) {
    return pageOf<Awaited<ReturnType<Backend["listEntries"]>>["data"][number]>(
      await this.#request("GET", "/api/v1/ledger/entries", ctx, undefined, { ...params }),
    );
  }

  async createEndpoint(params: Parameters<Backend["createEndpoint"]>[0], ctx: CallContext) {
    const body = await this.#request<Record<string, unknown>>("POST", "/api/v1/webhook-endpoints", ctx, params);
    return { ...endpointOf(body), secret: String(body.secret) } satisfies WebhookEndpointWithSecret;
  }

  async getEndpoint(id: string, ctx: CallContext) {
    return endpointOf(await this.#request("GET", `/api/v1/webhook-endpoints/${enc(id)}`, ctx));
  }

  async listEndpoints(params: PageParams, ctx: CallContext) {
    const page = pageOf<Record<string, unknown>>(
      await this.#request("GET", "/api/v1/webhook-endpoints", ctx, undefined, { ...params }),
    );
    return { data: page.data.map(endpointOf), hasMore: page.hasMore };
  }

  async updateEndpoint(id: string, params: Parameters<Backend["updateEndpoint"]>[1], ctx: CallContext) {
    return endpointOf(await this.#request("PATCH", `/api/v1/webhook-endpoints/${enc(id)}`, ctx, params));
  }

  async deleteEndpoint(id: string, ctx: CallContext) {
    await this.#request("DELETE", `/api/v1/webhook-endpoints/${enc(id)}`, ctx);
  }

  async rotateSecret(id: string, ctx: CallContext) {
    const body = await this.#request<Record<string, unknown>>(
      "POST",
      `/api/v1/webhook-endpoints/${enc(id)}/rotate-secret`,
      ctx,
      {},
    );
    return {
      ...endpointOf((body.endpoint as Record<string, unknown>) ?? body),
      secret: String(body.secret),
      previousSecretExpiresAt: (body.previousSecretExpiresAt as string) ?? null,
    };
  }

  async listMessages(params: Parameters<Backend["listMessages"]>[0], ctx: CallContext) {
    return pageOf<Awaited<ReturnType<Backend["replayMessage"]>>>(
      await this.#request("GET", "/api/v1/webhook-messages", ctx, undefined, { ...params }),
    );
  }

  async listAttempts(messageId: string, params: PageParams, ctx: CallContext) {
    return pageOf<Awaited<ReturnType<Backend["listAttempts"]>>["data"][number]>(
      await this.#request("GET", `/api/v1/webhook-messages/${enc(messageId)}/attempts`, ctx, undefined, {
        ...params,
      }),
    );
  }

  replayMessage(messageId: string, ctx: CallContext) {
    return this.#request<Awaited<ReturnType<Backend["replayMessage"]>>>(
      "POST",
      `/api/v1/webhook-messages/${enc(messageId)}/replay`,
      ctx,
      {},
    );
  }

  async close() {}
}

const enc = encodeURIComponent;
