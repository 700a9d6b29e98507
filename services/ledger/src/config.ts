import { commonSettings, count, flag, port } from "@mypay/kit";
import { z } from "zod";
import { DEFAULT_GROUP_COMMIT } from "./store/ledger-store.ts";

/** Every ledger setting, with its default. Listed in the README's configuration table. */
export const ledgerSettings = {
  ...commonSettings,
  LEDGER_PORT: port(50051),
  LEDGER_HOST: z.string().min(1).default("127.0.0.1"),
  /** Seeds the sandbox merchant with 1,000,000.00 PKR on first start. */
  SEED_DEMO_MERCHANT: flag(true),
  DEMO_MERCHANT_ID: z.string().min(1).max(64).default("mch_sandbox"),
  LEDGER_DB_POOL: count(16, 256),
  /** Most operations (holds, captures, releases, top-ups) sharing one group-commit transaction. */
  LEDGER_BATCH_MAX: count(DEFAULT_GROUP_COMMIT.maxBatch, 2_000),
  /** Longest an operation waits for others to share its transaction; 0 = until the event loop's current turn ends. */
  LEDGER_BATCH_WAIT_MS: z.coerce.number().int().min(0).max(100).default(DEFAULT_GROUP_COMMIT.maxWaitMs),
  /** Group-commit transactions in flight at once per process. */
  LEDGER_BATCH_CONCURRENCY: count(DEFAULT_GROUP_COMMIT.concurrency, 64),
  /**
   * How often the books are proved (ledger_invariants_ok); 0 turns the periodic check off. Often enough that
   * the entries it reads are still in the database's cache (ledger README).
   */
  LEDGER_INVARIANT_CHECK_SECONDS: z.coerce.number().int().min(0).max(86_400).default(10),
};
