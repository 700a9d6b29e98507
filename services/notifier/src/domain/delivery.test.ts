import { describe, expect, it } from "vitest";
import { AttemptResult, MessageStatus, resultOfStatus, stateAfterAttempt, statusClass } from "./delivery.ts";

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
});
