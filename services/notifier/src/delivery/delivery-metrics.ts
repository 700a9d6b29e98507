import { LATENCY_BUCKETS, type Logger } from "@mypay/kit";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { statusClass } from "../domain/delivery.ts";
import type { QueueDepth } from "../store/delivery-store.ts";
import type { AttemptOutcome } from "./webhook-sender.ts";

/** Who asked for a replay: a merchant for one message, a merchant for its failures, or operations staff. */
export type ReplayScope = "message" | "merchant" | "ops";

export interface DeliveryMetrics {
  /** Counts one recorded attempt and its latency. */
  observeAttempt(outcome: AttemptOutcome): void;
  /** Counts messages re-queued by a replay. */
  observeReplays(scope: ReplayScope, messages: number): void;
}

/** A queue sample serves every gauge of one scrape, so a scrape costs one query. */
const SAMPLE_MAX_AGE_MS = 1_000;

/**
 * Registers the webhook metrics: `webhook_attempts_total{result,status_class}`,
 * `webhook_delivery_seconds`, `webhook_replays_total{scope}`, and the gauges `webhook_queue_depth`,
 * `webhook_dead_letters` and `webhook_endpoints_disabled`, which query the database when scraped.
 */
export function createDeliveryMetrics(
  registry: Registry,
  queueDepth: () => Promise<QueueDepth>,
  logger: Logger,
): DeliveryMetrics {
  const attempts = new Counter({
    name: "webhook_attempts_total",
    help: "Webhook delivery attempts, by result and HTTP status class.",
    labelNames: ["result", "status_class"] as const,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: "webhook_delivery_seconds",
    help: "Duration of one webhook delivery attempt.",
    buckets: [...LATENCY_BUCKETS, 30, 60],
    registers: [registry],
  });
  let sample: { at: number; depth: Promise<QueueDepth | undefined> } | undefined;
  const current = () => {
    if (!sample || Date.now() - sample.at > SAMPLE_MAX_AGE_MS) {
      const depth = queueDepth().catch((err: unknown) => {
        logger.warn({ err }, "queue depth query failed");
        return undefined;
      });
      sample = { at: Date.now(), depth };
    }
    return sample.depth;
  };
  new Gauge({
    name: "webhook_queue_depth",
    help: "Webhook messages waiting for delivery or in flight.",
    registers: [registry],
    async collect() {
      const depth = await current();
      if (depth) this.set(depth.pending);
    },
  });
  new Gauge({
    name: "webhook_dead_letters",
    help: "Webhook messages dead-lettered after their last attempt.",
    registers: [registry],
    async collect() {
      const depth = await current();
      if (depth) this.set(depth.dead);
    },
  });
  new Gauge({
    name: "webhook_endpoints_disabled",
    help: "Webhook endpoints the platform disabled (410 Gone or failing too long) and nobody enabled again.",
    registers: [registry],
    async collect() {
      const depth = await current();
      if (depth) this.set(depth.disabledEndpoints);
    },
  });
  const replays = new Counter({
    name: "webhook_replays_total",
    help: "Webhook messages re-queued by a replay, by who asked (message, merchant, ops).",
    labelNames: ["scope"] as const,
    registers: [registry],
  });
  return {
    observeAttempt(outcome) {
      attempts.inc({ result: outcome.result, status_class: statusClass(outcome.statusCode) });
      seconds.observe(outcome.latencyMs / 1000);
    },
    observeReplays(scope, messages) {
      if (messages > 0) replays.inc({ scope }, messages);
    },
  };
}
