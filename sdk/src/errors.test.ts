import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "@mypay/proto/google/rpc/error_details";
import { describe, expect, it } from "vitest";
import {
  ApiConnectionError,
  AuthenticationError,
  codeName,
  IdempotencyError,
  InsufficientFundsError,
  InvalidRequestError,
  MyPayError,
  NotFoundError,
  parseRetryAfter,
  RateLimitError,
} from "./errors.ts";
import { errorFromFetch, errorFromResponse } from "./private/rest-backend.ts";
import { errorFromConnect } from "./private/rpc-backend.ts";

const ctx = { requestId: "req_sdk", timeoutMs: 1000 };

function connectError(
  code: Code,
  reason: string,
  metadata: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  return new ConnectError("boom", code, headers, [
    { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain: "mypay.dev", metadata }) },
  ]);
}

function restError(status: number, error: Record<string, unknown>, headers: Record<string, string> = {}) {
  return errorFromResponse(new Response(null, { status, headers }), { error }, ctx);
}

describe("error mapping", () => {
  it.each([
    [Code.FailedPrecondition, "INSUFFICIENT_FUNDS", InsufficientFundsError],
    [Code.Aborted, "IDEMPOTENCY_MISMATCH", IdempotencyError],
    [Code.Aborted, "IDEMPOTENCY_IN_PROGRESS", IdempotencyError],
    [Code.InvalidArgument, "INVALID_ARGUMENT", InvalidRequestError],
    [Code.NotFound, "NOT_FOUND", NotFoundError],
    [Code.Unauthenticated, "UNAUTHENTICATED", AuthenticationError],
    [Code.ResourceExhausted, "RATE_LIMITED", RateLimitError],
    [Code.Unavailable, "BACKLOG_FULL", RateLimitError],
    [Code.Unavailable, "UNAVAILABLE", ApiConnectionError],
    [Code.Internal, "INTERNAL", MyPayError],
  ])("RPC %s / %s → %s", (code, reason, type) => {
    const err = errorFromConnect(connectError(code, reason, {}, { "x-request-id": "req_gw" }), "req_sdk");
    expect(err).toBeInstanceOf(type);
    expect(err).toBeInstanceOf(MyPayError);
    expect(err.code).toBe(reason);
    expect(err.requestId).toBe("req_gw");
  });

  it("carries the field at fault and the retry delay from RPC details", () => {
    const invalid = errorFromConnect(
      connectError(Code.InvalidArgument, "INVALID_ARGUMENT", { field: "amount" }),
      "req_sdk",
    );
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect((invalid as InvalidRequestError).param).toBe("amount");
    expect(invalid.requestId).toBe("req_sdk");
    expect(invalid.rpcCode).toBe("invalid_argument");
    const limited = new ConnectError("slow down", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds: 2n, nanos: 500_000_000 } }) },
    ]);
    expect(errorFromConnect(limited, "r").retryAfter).toBe(2.5);
    const viaHeader = errorFromConnect(
      connectError(Code.ResourceExhausted, "RATE_LIMITED", {}, { "retry-after": "3" }),
      "r",
    );
    expect(viaHeader.retryAfter).toBe(3);
  });

  it.each([
    [422, { code: "insufficient_funds", type: "invalid_request_error" }, InsufficientFundsError, "INSUFFICIENT_FUNDS"],
    [422, { code: "idempotency_mismatch", type: "idempotency_error" }, IdempotencyError, "IDEMPOTENCY_MISMATCH"],
    [409, { code: "idempotency_in_progress", type: "idempotency_error" }, IdempotencyError, "IDEMPOTENCY_IN_PROGRESS"],
    [400, { code: "invalid_argument", param: "amount" }, InvalidRequestError, "INVALID_ARGUMENT"],
    [401, { code: "unauthenticated" }, AuthenticationError, "UNAUTHENTICATED"],
    [404, { code: "not_found" }, NotFoundError, "NOT_FOUND"],
    [429, { code: "rate_limited" }, RateLimitError, "RATE_LIMITED"],
    [503, { code: "unavailable" }, ApiConnectionError, "UNAVAILABLE"],
    [500, { code: "internal_error" }, MyPayError, "INTERNAL_ERROR"],
  ])("REST %i %j → %s", (status, body, type, code) => {
    const err = restError(status, { ...body, message: "m", requestId: "req_gw" }, { "retry-after": "7" });
    expect(err).toBeInstanceOf(type);
    expect(err.code).toBe(code);
    expect(err.httpStatus).toBe(status);
    expect(err.requestId).toBe("req_gw");
    expect(err.retryAfter).toBe(7);
  });

  it("names the REST param and falls back to the response's request id", () => {
    const err = errorFromResponse(
      new Response(null, { status: 400, headers: { "x-request-id": "req_hdr" } }),
      { error: { code: "invalid_argument", message: "amount: bad", param: "amount" } },
      ctx,
    );
    expect((err as InvalidRequestError).param).toBe("amount");
    expect(err.requestId).toBe("req_hdr");
    expect(restError(502, {}).code).toBe("HTTP_502");
  });

  it("files network failures and timeouts as connection errors with the SDK's request id", () => {
    const refused = errorFromFetch(new TypeError("fetch failed", { cause: new Error("ECONNREFUSED") }), ctx);
    expect(refused).toBeInstanceOf(ApiConnectionError);
    expect(refused.message).toMatch(/ECONNREFUSED/);
    expect(refused.requestId).toBe("req_sdk");
    const timeout = errorFromFetch(new DOMException("t", "TimeoutError"), ctx);
    expect(timeout).toBeInstanceOf(ApiConnectionError);
    expect(timeout.code).toBe("TIMEOUT");
    const aborted = new AbortController();
    aborted.abort();
    const cancelled = errorFromFetch(new DOMException("a", "AbortError"), { ...ctx, signal: aborted.signal });
    expect(cancelled.code).toBe("CANCELED");
    expect(cancelled).not.toBeInstanceOf(ApiConnectionError);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("5")).toBe(5);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(codeName(Code.FailedPrecondition)).toBe("failed_precondition");
  });
});
