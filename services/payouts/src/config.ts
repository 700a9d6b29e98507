import { commonSettings, count, currencyExponent, flag, millis, port } from "@mypay/kit";
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
  /** How long a create's outcome (its payout, or its first error) answers replays of its key. */
  IDEMPOTENCY_TTL_HOURS: count(24, 24 * 365),
  /**
   * How long a create in flight owns its key (IDEMPOTENCY_IN_PROGRESS); past it a retry may take over, and
   * the create itself no longer sends its hold. At least a second: a create must be able to finish in it.
   */
  IDEMPOTENCY_LOCK_MS: millis(30_000, 1_000),
  /** Past this many due payouts or unrelayed outbox messages, creates fail RESOURCE_EXHAUSTED / BACKLOG_FULL. */
  PAYOUTS_MAX_BACKLOG: count(50_000, 100_000_000),
  /** Concurrent creates arriving within this window share one transaction (group commit); 0 = within one event-loop turn. */
  CREATE_GROUP_COMMIT_MS: z.coerce.number().int().min(0).max(50).default(0),
  /** A create request with no payout this long after it started had its hold released by the reconciler. */
  RECONCILE_GRACE_SECONDS: count(300, 86_400),
  RECONCILE_TICK_SECONDS: seconds(10),
  /** Whether this process runs the payout processor (false: API, relay and reconciler only). */
  PAYOUTS_PROCESSOR: flag(true),
  /** Reproduces the old system for comparison: 5 s tick, batch 10, concurrency 1, bank delay 1 s (each unless set). */
  PAYOUTS_SEED_MODE: flag(false),
  /** `simulated`; `counting` is for tests only: the simulated rail that also appends each call to BANK_CALLS_FILE. */
  BANK_RAIL: z.enum(["simulated", "counting"]).default("simulated"),
  BANK_CALLS_FILE: z.string().optional(),
};

/** What seed mode changes, unless the variable is set explicitly. */
const SEED_MODE = {
  PROCESSOR_TICK_SECONDS: 5,
  PROCESSOR_BATCH_SIZE: 10,
  PROCESSOR_CONCURRENCY: 1,
  BANK_DELAY_MS: 1_000,
} as const;

/** Applies seed mode to parsed settings: its values win over defaults, not over explicit settings. */
export function withSeedMode<C extends { PAYOUTS_SEED_MODE: boolean } & Record<keyof typeof SEED_MODE, number>>(
  config: C,
  env: NodeJS.ProcessEnv = process.env,
): C {
  if (!config.PAYOUTS_SEED_MODE) return config;
  const out = { ...config };
  for (const [name, value] of Object.entries(SEED_MODE) as Array<[keyof typeof SEED_MODE, number]>) {
    if (!env[name]?.trim()) out[name] = value as C[typeof name];
  }
  return out;
}
