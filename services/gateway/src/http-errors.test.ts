import { appError, Code, ConnectError, invalidArgument, Reason } from "@mypay/kit";
import { describe, expect, it } from "vitest";
import { toHttpError } from "./http-errors.ts";

describe("toHttpError", () => {
  it.each([
    [invalidArgument("amount", "must be positive"), 400, "invalid_argument", "amount"],
    [appError(Code.NotFound, Reason.NOT_FOUND, "payout po_x not found"), 404, "not_found", undefined],
    [appError(Code.FailedPrecondition, Reason.INSUFFICIENT_FUNDS, "no money"), 422, "insufficient_funds", undefined],
    [appError(Code.Aborted, Reason.IDEMPOTENCY_MISMATCH, "other body"), 422, "idempotency_mismatch", undefined],
    [appError(Code.Aborted, Reason.IDEMPOTENCY_IN_PROGRESS, "in flight"), 409, "idempotency_in_progress", undefined],
    [appError(Code.FailedPrecondition, "ILLEGAL_TRANSITION", "final"), 409, "illegal_transition", undefined],
    [appError(Code.FailedPrecondition, Reason.HOLD_ALREADY_FINAL, "final"), 409, "hold_already_final", undefined],
    [new ConnectError("gone", Code.Unavailable), 503, "unavailable", undefined],
    [new ConnectError("slow", Code.DeadlineExceeded), 504, "deadline_exceeded", undefined],
    [new ConnectError("later", Code.Unimplemented), 501, "not_implemented", undefined],
  ])("maps %s", (err, status, code, param) => {
    const mapped = toHttpError(err);
    expect(mapped).toMatchObject({ status, code });
    expect(mapped.param).toBe(param);
  });

  it("adds Retry-After to a full backlog and to upstream rate limits", () => {
    expect(toHttpError(appError(Code.ResourceExhausted, "BACKLOG_FULL", "busy"))).toMatchObject({
      status: 503,
      headers: { "retry-after": "1" },
    });
    expect(toHttpError(new ConnectError("slow down", Code.ResourceExhausted))).toMatchObject({
      status: 429,
      headers: { "retry-after": "1" },
    });
  });

  it("says nothing about unknown failures", () => {
    for (const err of [new Error("SELECT * FROM secrets failed"), new ConnectError("stack trace", Code.Internal)]) {
      expect(toHttpError(err)).toEqual({
        status: 500,
        type: "api_error",
        code: "internal_error",
        message: "An internal error occurred.",
      });
    }
  });

  it("tells the client to retry when a connection reset aborted a call (no decision was made)", () => {
    expect(toHttpError(new ConnectError("read ECONNRESET", Code.Aborted))).toMatchObject({
      status: 503,
      code: "unavailable",
    });
    expect(toHttpError(appError(Code.Aborted, Reason.IDEMPOTENCY_MISMATCH, "other body"))).toMatchObject({
      status: 422,
      code: "idempotency_mismatch",
    });
  });

  it("tells the client to retry when the downstream reset the stream (CANCEL, no decision was made)", () => {
    const reset = new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled);
    expect(toHttpError(reset)).toMatchObject({ status: 503, code: "unavailable" });
  });
});
