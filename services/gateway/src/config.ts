import { commonSettings, count, flag, millis, port } from "@mypay/kit";
import { z } from "zod";

/** The documented sandbox key: seeded on first start so the README's curl works at once. */
export const SANDBOX_API_KEY = "mypay_test_sandbox_4f7c2a9e1b3d5f60";

/** The documented sandbox admin key (operations API under /api/v1/admin); never a merchant key. */
export const SANDBOX_ADMIN_API_KEY = "mypay_admin_sandbox_7d2e9b4c1a6f3e80";

/** Requests per second refilled into a token bucket; 0 turns that limit off. */
const perSecond = (fallback: number) => z.coerce.number().min(0).max(1_000_000).default(fallback);

/** Every gateway setting, with its default. Listed in the README's configuration table. */
export const gatewaySettings = {
  ...commonSettings,
  GATEWAY_PORT: port(8080),
  GATEWAY_HOST: z.string().min(1).default("127.0.0.1"),
  PAYOUTS_URL: z.string().url().default("http://127.0.0.1:50052"),
  LEDGER_URL: z.string().url().default("http://127.0.0.1:50051"),
  NOTIFIER_URL: z.string().url().default("http://127.0.0.1:50053"),
  /** Deadline of downstream calls, and the cap on a client's own deadline. */
  RPC_TIMEOUT_MS: millis(10_000),
  /** Largest accepted REST request body. */
  MAX_BODY_BYTES: count(65_536, 10_485_760),
  SEED_DEMO_MERCHANT: flag(true),
  DEMO_MERCHANT_ID: z.string().min(1).max(64).default("mch_sandbox"),
  SANDBOX_API_KEY: z
    .string()
    .regex(/^mypay_test_[A-Za-z0-9_]{8,100}$/, "mypay_test_ followed by 8-100 letters, digits or _")
    .default(SANDBOX_API_KEY),
  GATEWAY_DB_POOL: count(8, 256),
  ADMIN_API_KEY: z
    .string()
    .regex(/^mypay_admin_[A-Za-z0-9_]{8,100}$/, "mypay_admin_ followed by 8-100 letters, digits or _")
    .default(SANDBOX_ADMIN_API_KEY),
  /** Per-merchant token bucket for GET requests and read RPCs: refill rate and bucket size. */
  RATE_LIMIT_READ_PER_SEC: perSecond(200),
  RATE_LIMIT_READ_BURST: count(400, 1_000_000),
  /** Per-merchant token bucket for POST/PATCH/DELETE and mutating RPCs. */
  RATE_LIMIT_WRITE_PER_SEC: perSecond(100),
  RATE_LIMIT_WRITE_BURST: count(200, 1_000_000),
  /** Most payouts one coalesced read asks the payouts service for, and such reads in flight per merchant. */
  PAYOUT_READ_BATCH_MAX: count(128, 1000),
  PAYOUT_READ_CONCURRENCY: count(1, 64),
  /** How long a resolved API key is trusted in this process before the database is asked again (≤ 1 s). */
  AUTH_CACHE_MS: z.coerce.number().int().min(0).max(1000).default(1000),
};
