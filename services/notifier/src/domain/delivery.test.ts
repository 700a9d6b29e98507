import { describe, expect, it } from "vitest";
import {
  AttemptResult,
  MessageStatus,
  parseRetryAfter,
  resultOfStatus,
  stateAfterAttempt,
  statusClass,
} from "./delivery.ts";

describe("message state", () => {
  it("moves a message to DELIVERED, back to PENDING or to DEAD", () => {
    const schedule = [0, 1_000];
    const now = new Date();
    expect(stateAfterAttempt(AttemptResult.DELIVERED, 2, schedule, now)).toEqual({ status: MessageStatus.DELIVERED });
    expect(stateAfterAttempt(AttemptResult.TIMEOUT, 1, schedule, now).status).toBe(MessageStatus.PENDING);
    expect(stateAfterAttempt(AttemptResult.HTTP_ERROR, 2, schedule, now)).toEqual({ status: MessageStatus.DEAD });
  });

  it("counts only 2xx as delivered", () => {
    expect(resultOfStatus(200)).toBe(AttemptResult.DELIVERED);
    expect(resultOfStatus(299)).toBe(AttemptResult.DELIVERED);
    expect(resultOfStatus(301)).toBe(AttemptResult.HTTP_ERROR);
    expect(resultOfStatus(410)).toBe(AttemptResult.HTTP_ERROR);
  });

  it("names status classes", () => {
    expect(statusClass(204)).toBe("2xx");
    expect(statusClass(302)).toBe("3xx");
    expect(statusClass(503)).toBe("5xx");
    expect(statusClass(undefined)).toBe("none");
  });

  it("reads Retry-After as seconds or an HTTP date, capped, and waits at least that long", () => {
    const now = new Date("2026-11-25T12:00:00Z");
    expect(parseRetryAfter("120", now, 3_600_000)).toBe(120_000);
    expect(parseRetryAfter("Wed, 25 Nov 2026 12:00:30 GMT", now, 3_600_000)).toBe(30_000);
    expect(parseRetryAfter("Wed, 25 Nov 2026 11:00:00 GMT", now, 3_600_000)).toBe(0);
    expect(parseRetryAfter("999999", now, 3_600_000)).toBe(3_600_000);
    expect(parseRetryAfter("soon", now, 3_600_000)).toBeUndefined();
    expect(parseRetryAfter(undefined, now, 3_600_000)).toBeUndefined();
    const next = stateAfterAttempt(AttemptResult.HTTP_ERROR, 1, [0, 10], now, () => 0.5, 60_000);
    expect(next).toEqual({ status: MessageStatus.PENDING, nextAttemptAt: new Date(now.getTime() + 60_000) });
    const sooner = stateAfterAttempt(AttemptResult.HTTP_ERROR, 1, [0, 120_000], now, () => 0.5, 1_000);
    expect(sooner).toEqual({ status: MessageStatus.PENDING, nextAttemptAt: new Date(now.getTime() + 120_000) });
    expect(stateAfterAttempt(AttemptResult.HTTP_ERROR, 2, [0, 10], now, () => 0.5, 1_000).status).toBe(
      MessageStatus.DEAD,
    );
  });
});
