import { commonSettings, count, flag, port } from "@mypay/kit";
import { z } from "zod";

/** Every ledger setting, with its default. Listed in the README's configuration table. */
export const ledgerSettings = {
  ...commonSettings,
  LEDGER_PORT: port(50051),
  LEDGER_HOST: z.string().min(1).default("127.0.0.1"),
  /** Seeds the sandbox merchant with 1,000,000.00 PKR on first start. */
  SEED_DEMO_MERCHANT: flag(true),
  DEMO_MERCHANT_ID: z.string().min(1).max(64).default("mch_sandbox"),
  LEDGER_DB_POOL: count(16, 256),
};
