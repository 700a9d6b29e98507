import { commonSettings, count, currencyExponent, millis, port } from "@mypay/kit";
import { z } from "zod";

const decimal = (fallback: string) =>
  z
    .string()
    .regex(/^\d{1,13}(\.\d{1,2})?$/, "a positive decimal amount such as 100000.00")
    .default(fallback);

const seconds = (fallback: number) => z.coerce.number().int().min(1).max(59).default(fallback);

/** Every payouts setting, with its default. Listed in the README's configuration table. */
export const payoutsSettings = {
  ...commonSettings,
  PAYOUTS_PORT: port(50052),
  PAYOUTS_HOST: z.string().min(1).default("127.0.0.1"),
  LEDGER_URL: z.string().url().default("http://127.0.0.1:50051"),
  NOTIFIER_URL: z.string().url().default("http://127.0.0.1:50053"),
  /** Deadline of calls to the ledger and the notifier. */
  RPC_TIMEOUT_MS: millis(5_000),
  /** Simulated bank answer time. */
  BANK_DELAY_MS: millis(1_000),
  PAYOUT_CURRENCIES: z
    .string()
    .transform((v) => v.split(",").map((c) => c.trim().toUpperCase()))
    .pipe(z.array(z.string().refine((c) => currencyExponent(c) !== undefined, "unsupported currency")).min(1))
    .default(["PKR"]),
  /** Amounts at or above this (in the payout's currency) wait in IN_REVIEW. */
  REVIEW_THRESHOLD: decimal("100000.00"),
  MAX_PAYOUT_AMOUNT: decimal("10000000.00"),
  PROCESSOR_TICK_SECONDS: seconds(1),
  PROCESSOR_BATCH_SIZE: count(100, 10_000),
  PROCESSOR_CONCURRENCY: count(32, 1_000),
  /** How long a claimed payout stays owned by one processor before another may take it over. */
  PROCESSOR_LEASE_MS: millis(30_000),
  PAYOUT_MAX_ATTEMPTS: count(5, 100),
  RETRY_BASE_MS: millis(1_000),
  RETRY_CAP_MS: millis(300_000),
  OUTBOX_BATCH_SIZE: count(200, 10_000),
  PAYOUTS_DB_POOL: count(16, 256),
};
