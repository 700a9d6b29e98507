/**
 * Test support (not shipped behaviour): starts the ledger, notifier and payouts services as real
 * processes on loopback ports and a test storage, and gives typed clients to them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  createRpcClient,
  freePort,
  hasExited,
  MERCHANT_HEADER,
  type StorageSettings,
  storageEnv,
  waitUntilReady,
} from "@mypay/kit";
import { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { PayoutAdminService, PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";

const root = resolve(import.meta.dirname, "..", "..", "..");

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  output: string[];
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `services/<name>/src/main.ts` and resolves once `/readyz` answers 200. */
export async function startService(
  name: "ledger" | "notifier" | "payouts",
  storage: StorageSettings,
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...storageEnv(storage),
    LOG_LEVEL: "warn",
    SEED_DEMO_MERCHANT: "false",
    [`${name.toUpperCase()}_PORT`]: String(port),
    ...env,
  };
  if (!storage.DATABASE_URL) {
    delete childEnv.DATABASE_URL;
    delete childEnv.MYSQL_URL;
  }
  const child = spawn(process.execPath, [resolve(root, "services", name, "src", "main.ts")], {
    cwd: root,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout?.on("data", (b: Buffer) => output.push(b.toString()));
  child.stderr?.on("data", (b: Buffer) => output.push(b.toString()));
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, url, { name, details: () => output.join("") });
  return {
    url,
    child,
    output,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (!hasExited(child)) child.kill(signal);
      await exited;
    },
  };
}

const options = { timeoutMs: 30_000 };

export const ledgerClient = (url: string) => createRpcClient(LedgerService, url, options);
export const payoutsClient = (url: string) => createRpcClient(PayoutService, url, options);
export const adminClient = (url: string) => createRpcClient(PayoutAdminService, url, options);

/** Call options binding the merchant, as the gateway does. */
export const asMerchant = (merchantId: string) => ({ headers: { [MERCHANT_HEADER]: merchantId } });

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
