/** Message states and how one attempt's outcome moves a message between them. */
import { nextAttemptAt } from "./retry-schedule.ts";

/** PENDING until delivered or dead-lettered; both final states stay until ops replay them. */
export const MessageStatus = { PENDING: "PENDING", DELIVERED: "DELIVERED", DEAD: "DEAD" } as const;
export type MessageStatus = (typeof MessageStatus)[keyof typeof MessageStatus];

/** What one HTTP attempt came to; also the `result` label of `webhook_attempts_total`. */
export const AttemptResult = {
  /** 2xx. */
  DELIVERED: "delivered",
  /** The receiver answered with any other status. */
  HTTP_ERROR: "http_error",
  /** No complete answer within the timeout. */
  TIMEOUT: "timeout",
  /** DNS failure, refused or reset connection, TLS error. */
  NETWORK_ERROR: "network_error",
  /** The target resolved to an address the notifier must not call; no connection was made. */
  REFUSED: "refused",
} as const;
export type AttemptResult = (typeof AttemptResult)[keyof typeof AttemptResult];

/** `2xx`…`5xx`, or `none` when no HTTP status was received. */
export function statusClass(statusCode: number | undefined): string {
  if (statusCode === undefined || statusCode < 100 || statusCode > 599) return "none";
  return `${Math.floor(statusCode / 100)}xx`;
}

/** Standard Webhooks: any 2xx means the receiver took the message. */
export function resultOfStatus(statusCode: number): AttemptResult {
  return statusCode >= 200 && statusCode < 300 ? AttemptResult.DELIVERED : AttemptResult.HTTP_ERROR;
}

export type NextState =
  | { status: typeof MessageStatus.DELIVERED }
  | { status: typeof MessageStatus.PENDING; nextAttemptAt: Date }
  | { status: typeof MessageStatus.DEAD };

/**
 * The message's state after its attempt number `attempt` (1-based) ended with `result`. A receiver's
 * `Retry-After` (already capped) delays the next attempt past the schedule, never brings it forward.
 */
export function stateAfterAttempt(
  result: AttemptResult,
  attempt: number,
  schedule: readonly number[],
  now: Date,
  random: () => number = Math.random,
  retryAfterMs?: number,
): NextState {
  if (result === AttemptResult.DELIVERED) return { status: MessageStatus.DELIVERED };
  const next = nextAttemptAt(schedule, attempt, now, random);
  if (!next) return { status: MessageStatus.DEAD };
  const asked = retryAfterMs === undefined ? 0 : now.getTime() + retryAfterMs;
  return { status: MessageStatus.PENDING, nextAttemptAt: new Date(Math.max(next.getTime(), asked)) };
}

/**
 * Milliseconds a `Retry-After` header asks to wait: delay-seconds or an HTTP date, at most `capMs`.
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | undefined, now: Date, capMs: number): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - now.getTime();
  }
  return Math.min(Math.max(ms, 0), capMs);
}
