import { commonSettings, count, flag, millis, port } from "@mypay/kit";
import { z } from "zod";
import { parseDuration, parseRetrySchedule } from "./domain/retry-schedule.ts";

/** A retry schedule setting, parsed into waits in milliseconds. */
const retrySchedule = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        return parseRetrySchedule(text);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    });

/** A duration setting (`500ms`, `30s`, `1h`, at most 7d), parsed into milliseconds. */
const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        return parseDuration(text);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    });

/** A positive number of hours (fractions allowed) up to a bound. */
const hours = (fallback: number, max: number) => z.coerce.number().positive().max(max).default(fallback);

/** Every notifier setting, with its default. Listed in the README's configuration table. */
export const notifierSettings = {
  ...commonSettings,
  NOTIFIER_PORT: port(50053),
  NOTIFIER_HOST: z.string().min(1).default("127.0.0.1"),
  /** Sandbox: endpoints on loopback addresses may be registered and called. Private ranges never may. */
  NOTIFIER_ALLOW_LOOPBACK: flag(true),
  /** How often the delivery loop looks for due messages (1–59 s); publishing also wakes it at once. */
  NOTIFIER_TICK_SECONDS: count(1, 59),
  /** Most messages one claim takes; attempts that finish together are recorded in one transaction. */
  NOTIFIER_BATCH_SIZE: count(128, 1000),
  /** Deliveries in flight at once per notifier process. */
  NOTIFIER_CONCURRENCY: count(128, 1000),
  /** Limit on one delivery attempt, connect to last byte read. */
  NOTIFIER_TIMEOUT_MS: millis(30_000).pipe(z.number().min(1)),
  /** Waits before each attempt; its length is the number of attempts before a message is dead. */
  NOTIFIER_RETRY_SCHEDULE: retrySchedule("0s,5s,5m,30m,2h,5h,10h,10h"),
  /**
   * Deliveries in flight at once to one endpoint per process, so a slow receiver cannot take every slot. At
   * 4 a single busy merchant's webhooks capped the whole mesh near 135 settled payouts/s (each delivery and its
   * recording take a few ms); 32 of 128 leaves a hanging receiver three quarters of the slots for the others.
   */
  NOTIFIER_ENDPOINT_CONCURRENCY: count(32, 1000),
  /** A claim's lease is 3 × the timeout plus this; messages of a process that died are retried after it. */
  NOTIFIER_LEASE_MARGIN_MS: millis(10_000).pipe(z.number().min(100)),
  /** Longest `Retry-After` (on 429) honoured; longer requests wait this long. */
  NOTIFIER_RETRY_AFTER_MAX: duration("1h"),
  /** After RotateSecret the previous secret keeps signing alongside the new one this long. */
  NOTIFIER_SECRET_GRACE_HOURS: hours(24, 24 * 30),
  /** An endpoint whose every attempt failed for this long is disabled (and `endpoint.disabled` is sent). */
  NOTIFIER_DISABLE_AFTER_HOURS: hours(120, 24 * 365),
  /** Pending messages past which Publish answers RESOURCE_EXHAUSTED (BACKLOG_FULL). */
  NOTIFIER_MAX_BACKLOG: count(100_000, 100_000_000),
  NOTIFIER_DB_POOL: count(16, 256),
};
