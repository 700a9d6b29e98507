import { commonSettings, count, flag, millis, port } from "@mypay/kit";
import { z } from "zod";
import { parseRetrySchedule } from "./domain/retry-schedule.ts";

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

/** Every notifier setting, with its default. Listed in the README's configuration table. */
export const notifierSettings = {
  ...commonSettings,
  NOTIFIER_PORT: port(50053),
  NOTIFIER_HOST: z.string().min(1).default("127.0.0.1"),
  /** Sandbox: endpoints on loopback addresses may be registered and called. Private ranges never may. */
  NOTIFIER_ALLOW_LOOPBACK: flag(true),
  /** How often the delivery loop looks for due messages (1–59 s); publishing also wakes it at once. */
  NOTIFIER_TICK_SECONDS: count(1, 59),
  /** Messages claimed and delivered per batch; each batch's results are committed in one transaction. */
  NOTIFIER_BATCH_SIZE: count(64, 1000),
  /** Deliveries in flight at once per notifier process. */
  NOTIFIER_CONCURRENCY: count(32, 1000),
  /** Limit on one delivery attempt, connect to last byte read. */
  NOTIFIER_TIMEOUT_MS: millis(30_000).pipe(z.number().min(1)),
  /** Waits before each attempt; its length is the number of attempts before a message is dead. */
  NOTIFIER_RETRY_SCHEDULE: retrySchedule("0s,5s,5m,30m,2h,5h,10h,10h"),
  NOTIFIER_DB_POOL: count(16, 256),
};
