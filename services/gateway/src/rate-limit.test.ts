import { describe, expect, it } from "vitest";
import { RateLimiter, rateLimitHeaders } from "./rate-limit.ts";

describe("RateLimiter", () => {
  const settings = { read: { perSecond: 2, burst: 3 }, write: { perSecond: 1, burst: 1 } };

  it("allows a burst, refuses past it with Retry-After, and refills over time", () => {
    let now = 0;
    const limiter = new RateLimiter(settings, () => now);
    expect([1, 2, 3].map(() => limiter.take("m1", "read").allowed)).toEqual([true, true, true]);
    const refused = limiter.take("m1", "read");
    expect(refused).toMatchObject({ allowed: false, limit: 3, remaining: 0, retryAfterSeconds: 1, resetSeconds: 2 });
    expect(rateLimitHeaders(refused)).toEqual({
      "ratelimit-limit": "3",
      "ratelimit-remaining": "0",
      "ratelimit-reset": "2",
      "retry-after": "1",
    });
    now = 500; // one token back at 2/s
    expect(limiter.take("m1", "read").allowed).toBe(true);
    expect(limiter.take("m1", "read").allowed).toBe(false);
  });

  it("keeps merchants and buckets apart", () => {
    const limiter = new RateLimiter(settings, () => 0);
    expect(limiter.take("m1", "write").allowed).toBe(true);
    expect(limiter.take("m1", "write").allowed).toBe(false);
    expect(limiter.take("m2", "write").allowed).toBe(true);
    expect(limiter.take("m1", "read").allowed).toBe(true);
  });

  it("is off when the rate is 0", () => {
    const limiter = new RateLimiter({ ...settings, read: { perSecond: 0, burst: 1 } }, () => 0);
    for (let i = 0; i < 10; i++) expect(limiter.take("m1", "read").allowed).toBe(true);
    expect(rateLimitHeaders(limiter.take("m1", "read"))).toEqual({});
  });
});
