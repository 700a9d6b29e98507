import { Code } from "@connectrpc/connect";

/** What the SDK knows about a failed call, whichever transport carried it. */
export interface MyPayErrorInit {
  /** Machine-readable reason, upper snake case (`INSUFFICIENT_FUNDS`, `NOT_FOUND`, …). */
  code: string;
  /** The Connect/gRPC status code. */
  rpcCode: Code;
  /** HTTP status when the call went over REST. */
  httpStatus?: number;
  /** The gateway's request id (also sent by the SDK, so it is known even when no answer came). */
  requestId?: string;
  /** The request field at fault, as the API names it (camelCase). */
  param?: string;
  /** Seconds the server asked to wait before retrying. */
  retryAfter?: number;
  cause?: unknown;
}

/**
 * Base class of every error the API client throws. `code` is the stable machine-readable reason
 * (e.g. `INSUFFICIENT_FUNDS`) and `requestId` identifies the call in MyPay's logs: quote it to support.
 */
export class MyPayError extends Error {
  override name = "MyPayError";
  /** Machine-readable reason, upper snake case: same value over REST, Connect, gRPC and gRPC-Web. */
  readonly code: string;
  /** The Connect/gRPC status code name in snake case (`failed_precondition`). */
  readonly rpcCode: string;
  /** HTTP status, when the call went over REST. */
  readonly httpStatus: number | undefined;
  /** The call's request id. */
  readonly requestId: string | undefined;
  /** Seconds the server asked to wait before trying again (`Retry-After` or `google.rpc.RetryInfo`), if it said. */
  readonly retryAfter: number | undefined;

  constructor(message: string, init: MyPayErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.rpcCode = codeName(init.rpcCode);
    this.httpStatus = init.httpStatus;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }
}

/** The API key is missing, unknown or not allowed to do this (HTTP 401/403, UNAUTHENTICATED). */
export class AuthenticationError extends MyPayError {
  override name = "AuthenticationError";
}

/** The request is invalid; `param` names the field at fault when there is one (HTTP 400/409/422). */
export class InvalidRequestError extends MyPayError {
  override name = "InvalidRequestError";
  /** The request field at fault (camelCase), if known. */
  readonly param: string | undefined;

  constructor(message: string, init: MyPayErrorInit) {
    super(message, init);
    this.param = init.param;
  }
}

/**
 * The idempotency key was reused with another request (`IDEMPOTENCY_MISMATCH`) or its first request
 * is still in flight (`IDEMPOTENCY_IN_PROGRESS`; the SDK retries that one itself).
 */
export class IdempotencyError extends MyPayError {
  override name = "IdempotencyError";
}

/** Too many requests (HTTP 429, RESOURCE_EXHAUSTED, or `BACKLOG_FULL`); wait `retryAfter` seconds. */
export class RateLimitError extends MyPayError {
  override name = "RateLimitError";
}

/** The merchant's available balance does not cover the payout. Nothing was locked. */
export class InsufficientFundsError extends InvalidRequestError {
  override name = "InsufficientFundsError";
}

/** No such object for this API key's merchant (HTTP 404, NOT_FOUND). */
export class NotFoundError extends MyPayError {
  override name = "NotFoundError";
}

/**
 * No usable answer: the gateway could not be reached, timed out, or said it is unavailable
 * (HTTP 502/503/504, UNAVAILABLE, DEADLINE_EXCEEDED). Keyed calls are safe to retry.
 */
export class ApiConnectionError extends MyPayError {
  override name = "ApiConnectionError";
}

const RATE_LIMIT_REASONS = new Set(["RATE_LIMITED", "RATE_LIMIT_EXCEEDED", "BACKLOG_FULL", "RESOURCE_EXHAUSTED"]);

/** `Code.FailedPrecondition` → `"failed_precondition"`. */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase());
}

/** Picks the error class for a failed call. The one table for every transport. */
export function createError(message: string, init: MyPayErrorInit): MyPayError {
  const reason = init.code;
  if (reason === "INSUFFICIENT_FUNDS") return new InsufficientFundsError(message, init);
  if (reason.startsWith("IDEMPOTENCY_")) return new IdempotencyError(message, init);
  if (RATE_LIMIT_REASONS.has(reason) || init.rpcCode === Code.ResourceExhausted) {
    return new RateLimitError(message, init);
  }
  switch (init.rpcCode) {
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return new AuthenticationError(message, init);
    case Code.NotFound:
      return new NotFoundError(message, init);
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
    case Code.OutOfRange:
      return new InvalidRequestError(message, init);
    case Code.Aborted:
      return new IdempotencyError(message, init);
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return new ApiConnectionError(message, init);
    default:
      return new MyPayError(message, init);
  }
}

/** The Connect code a REST status stands for (as the gateway maps them). */
export function codeFromHttpStatus(status: number): Code {
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return Code.InvalidArgument;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.NotFound;
    case 409:
      return Code.FailedPrecondition;
    case 429:
      return Code.ResourceExhausted;
    case 501:
      return Code.Unimplemented;
    case 502:
    case 503:
      return Code.Unavailable;
    case 504:
      return Code.DeadlineExceeded;
    default:
      return status >= 500 ? Code.Internal : Code.Unknown;
  }
}

/** Reads a `Retry-After` value (delta seconds or an HTTP date) as seconds from `now`. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}
