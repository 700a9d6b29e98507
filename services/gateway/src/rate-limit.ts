/** Which budget a request spends: reads (GET, read RPCs) or writes (everything that changes state). */
export type Bucket = "read" | "write";

export interface BucketSettings {
  /** Tokens refilled per second; 0 turns the limit off. */
  perSecond: number;
  /** Bucket size: the largest burst. */
  burst: number;
}

/** What a client is told: `RateLimit-*` headers, and `Retry-After` when refused. */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again (RateLimit-Reset). */
  resetSeconds: number;
  /** Seconds until one token is available (Retry-After), when refused. */
  retryAfterSeconds: number;
}

interface State {
  tokens: number;
  at: number;
}

/**
 * Per-merchant token buckets, one for reads and one for writes. In-process: each replica enforces its
 * own budget (a limit of N per replica), which bounds abuse without a shared store on the hot path.
 */
export class RateLimiter {
  readonly #settings: Record<Bucket, BucketSettings>;
  readonly #state = new Map<string, State>();
  readonly #now: () => number;

  constructor(settings: Record<Bucket, BucketSettings>, now: () => number = () => performance.now()) {
    this.#settings = settings;
    this.#now = now;
  }

  /** Takes one token from the merchant's bucket if there is one. */
  take(merchantId: string, bucket: Bucket): RateDecision {
    const { perSecond, burst } = this.#settings[bucket];
    if (perSecond === 0) return { allowed: true, limit: 0, remaining: 0, resetSeconds: 0, retryAfterSeconds: 0 };
    const key = `${bucket}:${merchantId}`;
    const now = this.#now();
    const state = this.#state.get(key) ?? { tokens: burst, at: now };
    state.tokens = Math.min(burst, state.tokens + ((now - state.at) / 1000) * perSecond);
    state.at = now;
    const allowed = state.tokens >= 1;
    if (allowed) state.tokens -= 1;
    if (!this.#state.has(key)) {
      if (this.#state.size > 100_000) this.#state.clear();
      this.#state.set(key, state);
    }
    return {
      allowed,
      limit: burst,
      remaining: Math.floor(state.tokens),
      resetSeconds: Math.ceil((burst - state.tokens) / perSecond),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - state.tokens) / perSecond)),
    };
  }
}

/** The IETF `RateLimit-*` headers (plus `Retry-After` when refused) for a decision. */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  if (decision.limit === 0) return {};
  const headers: Record<string, string> = {
    "ratelimit-limit": String(decision.limit),
    "ratelimit-remaining": String(decision.remaining),
    "ratelimit-reset": String(decision.resetSeconds),
  };
  if (!decision.allowed) headers["retry-after"] = String(decision.retryAfterSeconds);
  return headers;
}
