import { LATENCY_BUCKETS, SeriesCounter, SeriesHistogram } from "@mypay/kit";
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
  const requests = new SeriesCounter({
    name: "http_requests_total",
    help: "REST requests answered, by route pattern, method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const duration = new SeriesHistogram({
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
  return {
    observe(route, method, status, seconds) {
      requests.series(route, method, String(status)).inc();
      duration.series(route, method).observe(seconds);
    },
    rateLimited(bucket) {
      limited.inc({ bucket });
    },
    readBatch(size) {
      readBatches.observe(size);
    },
  };
}
