import { LATENCY_BUCKETS } from "@mypay/kit";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Bucket } from "./rate-limit.ts";

/** HTTP RED metrics at the edge. `route` is always the documented pattern, never the raw path. */
export interface HttpMetrics {
  observe(route: string, method: string, status: number, seconds: number): void;
  rateLimited(bucket: Bucket): void;
  /** One coalesced payout read of `size` payouts was sent. */
  readBatch(size: number): void;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  const requests = new Counter({
    name: "http_requests_total",
    help: "REST requests answered, by route pattern, method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "REST request latency, by route pattern and method.",
    labelNames: ["route", "method"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const limited = new Counter({
    name: "gateway_rate_limited_total",
    help: "Requests and RPCs refused by the per-merchant rate limit, by bucket.",
    labelNames: ["bucket"] as const,
    registers: [registry],
  });
  const readBatches = new Histogram({
    name: "gateway_payout_read_batch_size",
    help: "Payouts per coalesced read sent to the payouts service.",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000],
    registers: [registry],
  });
  // Label children by route, method and status (a bounded set: patterns, HTTP methods, status codes), so a
  // request does not hash its labels twice.
  const children = new Map<string, { answered: { inc(): void }; timed: { observe(seconds: number): void } }>();
  return {
    observe(route, method, status, seconds) {
      const key = `${method} ${status} ${route}`;
      let child = children.get(key);
      if (!child) {
        child = { answered: requests.labels(route, method, String(status)), timed: duration.labels(route, method) };
        children.set(key, child);
      }
      child.answered.inc();
      child.timed.observe(seconds);
    },
    rateLimited(bucket) {
      limited.inc({ bucket });
    },
    readBatch(size) {
      readBatches.observe(size);
    },
  };
}
