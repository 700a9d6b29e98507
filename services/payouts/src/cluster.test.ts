import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, dropTestDatabases, errorDetails, testStorage } from "@mypay/kit";
import { HoldStatus } from "@mypay/proto/mypay/ledger/v1/ledger";
import { DestinationType, PayoutStatus } from "@mypay/proto/mypay/payouts/v1/payouts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adminClient,
  asMerchant,
  eventually,
  ledgerClient,
  payoutsClient,
  type ServiceProcess,
  startService,
} from "./test-processes.ts";

const storage = testStorage();
const onServer = Boolean(storage.DATABASE_URL);
const engine = onServer ? "MariaDB/MySQL" : "SQLite";
const OPENING = 100_000_000n;
const AMOUNT = 1_000n;
/** The issue asks for 2,000 on the server; SQLite has one writer, so it runs a smaller batch. */
const REPLICA_PAYOUTS = onServer ? 2_000 : 300;
const MERCHANTS = 20;

/** Bank calls recorded by the test-only counting rail: payout id → pids of the calls. */
function bankCalls(file: string): Map<string, string[]> {
  const calls = new Map<string, string[]>();
  if (!existsSync(file)) return calls;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [id, attempt, pid] = line.split(" ");
    if (id && pid) calls.set(id, [...(calls.get(id) ?? []), `${pid}#${attempt}`]);
  }
  return calls;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

describe(`payout processing across replicas and crashes on ${engine}`, () => {
  let ledgerProc: ServiceProcess;
  let notifierProc: ServiceProcess;
  let ledger: ReturnType<typeof ledgerClient>;
  const started: ServiceProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), "payouts-cluster-"));

  beforeAll(async () => {
    [ledgerProc, notifierProc] = await Promise.all([
      startService("ledger", storage),
      startService("notifier", storage),
    ]);
    ledger = ledgerClient(ledgerProc.url);
  }, 90_000);

  afterAll(async () => {
    if (process.env.PAYOUTS_TEST_LOGS) {
      for (const [name, proc] of [
        ["ledger", ledgerProc],
        ["notifier", notifierProc],
        ...started.map((p, i) => [`payouts#${i}`, p] as const),
      ] as const) {
        console.log(`--- ${name}\n${proc?.output.join("").slice(-6000)}`);
      }
    }
    await Promise.all(started.map((p) => p.stop("SIGKILL")));
    await Promise.all([ledgerProc?.stop(), notifierProc?.stop()]);
    await dropTestDatabases(storage);
    rmSync(dir, { recursive: true, force: true });
  });

  const payoutsEnv = (callsFile: string, extra: Record<string, string> = {}) => ({
    LEDGER_URL: ledgerProc.url,
    NOTIFIER_URL: notifierProc.url,
    BANK_DELAY_MS: "0",
    BANK_RAIL: "counting",
    BANK_CALLS_FILE: callsFile,
    RETRY_BASE_MS: "50",
    RETRY_CAP_MS: "200",
    ...extra,
  });

  async function startPayouts(env: Record<string, string>): Promise<ServiceProcess> {
    const proc = await startService("payouts", storage, env);
    started.push(proc);
    return proc;
  }

  async function merchants(tag: string): Promise<string[]> {
    const ids = Array.from({ length: MERCHANTS }, (_, i) => `m_${tag}_${i}`);
    for (const id of ids) {
      await ledger.topUp({ merchantId: id, amount: { currency: "PKR", minorUnits: OPENING }, idempotencyKey: id });
    }
    return ids;
  }

  /** Creates `n` payouts round-robin over merchants and payouts processes; returns [merchant, id, suffix]. */
  async function createMany(n: number, ms: string[], procs: ServiceProcess[], suffixes: string[]) {
    const clients = procs.map((p) => payoutsClient(p.url));
    return pool(
      Array.from({ length: n }, (_, i) => i),
      32,
      async (i) => {
        const merchantId = ms[i % ms.length]!;
        const suffix = suffixes[i % suffixes.length]!;
        const key = `k-${i}-${randomUUID()}`;
        for (;;) {
          try {
            const res = await clients[i % clients.length]!.createPayout(
              {
                idempotencyKey: key,
                merchantReference: `r-${i}`,
                amount: { currency: "PKR", minorUnits: AMOUNT },
                destType: DestinationType.BANK,
                bankCode: "HBL",
                accountNumber: `123456${suffix}`,
                accountTitle: "Ali Khan",
              },
              asMerchant(merchantId),
            );
            return { merchantId, id: res.payout!.id, suffix };
          } catch (err) {
            // A busy database or ledger may refuse for a moment; the same key makes the retry safe.
            const { code, reason } = errorDetails(err);
            const retryable =
              code === Code.Unavailable || code === Code.Internal || reason === "IDEMPOTENCY_IN_PROGRESS";
            if (!retryable) throw err;
            await sleep(20);
          }
        }
      },
    );
  }

  /** Waits until no payout of these merchants is still moving, and every hold is settled. */
  async function allFinal(url: string, ms: string[], total: number) {
    const admin = adminClient(url);
    const finalStatuses = [PayoutStatus.SUCCESS, PayoutStatus.FAILED, PayoutStatus.CANCELLED];
    await eventually(
      async () => {
        let final = 0;
        for (const merchantId of ms) {
          let startingAfter = "";
          for (;;) {
            const page = await admin.listAllPayouts({
              merchantId,
              filter: { statuses: finalStatuses },
              page: { limit: 100, startingAfter },
            });
            final += page.payouts.length;
            if (!page.hasMore) break;
            startingAfter = page.payouts.at(-1)!.id;
          }
        }
        return final === total ? true : undefined;
      },
      120_000,
      "every payout final",
    );
    await eventually(
      async () => {
        for (const merchantId of ms) {
          const b = (await ledger.getBalance({ merchantId, currency: "PKR" })).balance!;
          if (b.lockedMinor !== 0n) return undefined;
        }
        return true;
      },
      60_000,
      "every hold settled",
    );
  }

  /** VerifyInvariants when the ledger has it; otherwise the balance checks stand alone. */
  async function invariantsHold(): Promise<void> {
    try {
      const res = await ledger.verifyInvariants({});
      expect(res.violations).toEqual([]);
      expect(res.ok).toBe(true);
    } catch (err) {
      if (errorDetails(err).code !== Code.Unimplemented) throw err;
      console.log("[payouts cluster] ledger VerifyInvariants not implemented yet: checked balances and holds only");
    }
  }

  it(`3 replicas on one database process ${REPLICA_PAYOUTS} payouts with exactly one bank call each`, async () => {
    const file = join(dir, "replicas.calls");
    const env = payoutsEnv(file, { PROCESSOR_BATCH_SIZE: "50" });
    const first = await startPayouts(env);
    const replicas = [first, ...(await Promise.all([startPayouts(env), startPayouts(env)]))];
    const ms = await merchants("rep");
    const t0 = Date.now();
    const made = await createMany(REPLICA_PAYOUTS, ms, replicas, ["9999"]);
    await allFinal(first.url, ms, REPLICA_PAYOUTS);
    console.log(
      `[payouts cluster] ${REPLICA_PAYOUTS} payouts created and settled by 3 replicas in ${Date.now() - t0} ms`,
    );
    const calls = bankCalls(file);
    expect(calls.size).toBe(REPLICA_PAYOUTS);
    const repeated = [...calls].filter(([, pids]) => pids.length !== 1);
    expect(repeated).toEqual([]);
    expect(new Set(made.map((p) => p.id))).toEqual(new Set(calls.keys()));
    const pids = new Set([...calls.values()].flat().map((call) => call.split("#")[0]));
    expect(pids.size).toBeGreaterThan(1);
    for (const merchantId of ms) {
      const b = (await ledger.getBalance({ merchantId, currency: "PKR" })).balance!;
      expect(b).toMatchObject({
        lockedMinor: 0n,
        balanceMinor: OPENING - AMOUNT * BigInt(REPLICA_PAYOUTS / MERCHANTS),
      });
    }
    await invariantsHold();
    await Promise.all(replicas.map((r) => r.stop()));
  }, 240_000);

  it("SIGKILL mid-batch, restart: every payout final with exactly one capture or release", async () => {
    const file = join(dir, "crash.calls");
    const n = onServer ? 600 : 200;
    const env = payoutsEnv(file, {
      BANK_DELAY_MS: "200",
      PROCESSOR_BATCH_SIZE: "50",
      PROCESSOR_CONCURRENCY: "8",
      PROCESSOR_LEASE_MS: "1500",
    });
    const victim = await startPayouts(env);
    const ms = await merchants("crash");
    const made = await createMany(n, ms, [victim], ["0001", "0003", "9999"]);
    await eventually(async () => (bankCalls(file).size >= 30 ? true : undefined), 30_000, "a batch in flight");
    await victim.stop("SIGKILL");
    const callsAtCrash = bankCalls(file).size;
    expect(callsAtCrash).toBeLessThan(n);
    const survivor = await startPayouts(env);
    await allFinal(survivor.url, ms, n);

    const payouts = payoutsClient(survivor.url);
    const expected: Record<string, [PayoutStatus, HoldStatus]> = {
      "0001": [PayoutStatus.SUCCESS, HoldStatus.CAPTURED],
      "0003": [PayoutStatus.FAILED, HoldStatus.RELEASED],
      "9999": [PayoutStatus.SUCCESS, HoldStatus.CAPTURED],
    };
    await pool(made, 16, async (p) => {
      const payout = (await payouts.getPayout({ id: p.id }, asMerchant(p.merchantId))).payout!;
      const hold = (await ledger.getHold({ holdId: p.id })).hold!;
      expect([payout.status, hold.status]).toEqual(expected[p.suffix]);
    });
    for (const merchantId of ms) {
      const mine = made.filter((p) => p.merchantId === merchantId);
      const paid = BigInt(mine.filter((p) => p.suffix !== "0003").length) * AMOUNT;
      const b = (await ledger.getBalance({ merchantId, currency: "PKR" })).balance!;
      expect(b).toMatchObject({ lockedMinor: 0n, balanceMinor: OPENING - paid });
    }
    await invariantsHold();
    console.log(`[payouts cluster] SIGKILL after ${callsAtCrash} of ${n} bank calls; all final after restart`);
  }, 240_000);
});
