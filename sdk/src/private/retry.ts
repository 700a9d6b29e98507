import { ApiConnectionError, IdempotencyError, MyPayError, RateLimitError } from "../errors.ts";

/** How the SDK retries its own calls. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** First backoff; doubles each retry. */
  baseDelayMs: number;
  /** Longest backoff of the SDK's own choosing. */
  maxDelayMs: number;
  /** Longest `Retry-After` the SDK waits for; a longer one is thrown to the caller at once. */
  maxRetryAfterMs: number;
}

/** Whether another attempt may succeed where this one failed. */
export function isRetryable(err: unknown): err is MyPayError {
  if (!(err instanceof MyPayError)) return false;
  if (err instanceof ApiConnectionError || err instanceof RateLimitError) return true;
  if (err instanceof IdempotencyError) return err.code === "IDEMPOTENCY_IN_PROGRESS";
  if ((err.httpStatus ?? 0) >= 500) return true;
  return err.rpcCode === "internal" || err.rpcCode === "unknown";
}

/** Backoff before retry number `retry` (0-based): exponential with jitter, or what the server asked for. */
export function retryDelayMs(err: MyPayError, retry: number, policy: RetryPolicy, random = Math.random): number {
  const asked = retryAfterOf(err);
  if (asked !== undefined) return asked * 1000;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return ceiling / 2 + random() * (ceiling / 2);
}

function retryAfterOf(err: MyPayError): number | undefined {
  return err.retryAfter;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or `policy.maxRetries` retries are spent.
 * Callers pass `retryable: false` for calls that are neither idempotent nor keyed: those run once.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  retryable: boolean,
  signal?: AbortSignal,
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      if (!retryable || retry >= policy.maxRetries || !isRetryable(err) || signal?.aborted) throw err;
      const delay = retryDelayMs(err, retry, policy);
      if (delay > policy.maxRetryAfterMs) throw err;
      await sleep(delay, signal);
      if (signal?.aborted) throw err;
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        done();
      },
      { once: true },
    );
  });
}
