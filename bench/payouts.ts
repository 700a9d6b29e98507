/**
 * Payouts benchmark: the processor draining 2,000 PENDING payouts across 100 merchants on MySQL/MariaDB
 * (bank delay 0) against real ledger and notifier processes, then PENDING → final latency with payouts
 * fed at half of the measured rate, then the seed-mode configuration (the old system: 5 s tick, batch 10,
 * concurrency 1, 1 s bank) over a short fixed window, extrapolated to the same 2,000. Prints the ratio.
 *
 *   npm run bench:payouts            (MYSQL_URL defaults to mysql://root@127.0.0.1:3306)
 *   BENCH_PAYOUTS=2000 BENCH_SEED_SECONDS=30 npm run bench:payouts
 *
 * Loopback only; creates fresh databases and drops them at the end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  createRpcClient,
  dropTestDatabases,
  freePort,
  hasExited,
  MERCHANT_HEADER,
  type StorageSettings,
  storageEnv,
  waitUntilReady,
} from "@mypay/kit";
import { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { DestinationType, PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import { createConnection } from "mysql2/promise";
import { serviceNodeFlags } from "../scripts/service-node-flags.ts";
import { percentile } from "./lib/load.ts";

const SERVER_URL = process.env.MYSQL_URL || process.env.DATABASE_URL || "mysql://root@127.0.0.1:3306";
const PAYOUTS = Number(process.env.BENCH_PAYOUTS || 2_000);
const MERCHANTS = 100;
/** Seed mode's first tick comes within 5 s and a batch of 10 takes 10 s: shorter windows measure nothing. */
const SEED_SECONDS = Math.max(20, Number(process.env.BENCH_SEED_SECONDS || 20));
const root = resolve(import.meta.dirname, "..");
const storage: StorageSettings = {
  DATABASE_URL: SERVER_URL,
  DATABASE_PREFIX: `bench${Date.now().toString(36)}${randomBytes(2).toString("hex")}`,
  DATA_DIR: join(tmpdir(), "mypay-bench-payouts"),
};
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const children: ChildProcess[] = [];

async function startService(
  name: string,
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...serviceNodeFlags(), resolve(root, "services", name, "src", "main.ts")], {
    cwd: root,
    env: {
      ...process.env,
      ...storageEnv(storage),
      LOG_LEVEL: "error",
      SEED_DEMO_MERCHANT: "false",
      [`${name.toUpperCase()}_PORT`]: String(port),
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, url, { name });
  return { url, child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM");
  await exited;
}

const FINAL = "('SUCCESS', 'FAILED', 'CANCELLED')";

async function main(): Promise<void> {
  const url = new URL(SERVER_URL);
  url.protocol = "mysql:";
  url.pathname = `/${storage.DATABASE_PREFIX}_payouts`;
  const ledgerProc = await startService("ledger");
  const notifierProc = await startService("notifier");
  const ledger = createRpcClient(LedgerService, ledgerProc.url, { timeoutMs: 30_000 });
  const merchants = Array.from({ length: MERCHANTS }, (_, i) => `m_bench_${i}`);
  for (const merchantId of merchants) {
    await ledger.topUp({
      merchantId,
      amount: { currency: "PKR", minorUnits: 10_000_000_000n },
      idempotencyKey: merchantId,
    });
  }
  const common = { LEDGER_URL: ledgerProc.url, NOTIFIER_URL: notifierProc.url, BANK_DELAY_MS: "0" };

  /** Creates `n` payouts (bounded concurrency) through `payoutsUrl`; returns their ids. */
  async function createPayouts(payoutsUrl: string, n: number, tag: string, concurrency = 32): Promise<string[]> {
    const client = createRpcClient(PayoutService, payoutsUrl, { timeoutMs: 30_000 });
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          const i = next++;
          const key = `${tag}-${i}-${randomUUID()}`;
          for (let attempt = 0; ; attempt++) {
            try {
              const res = await client.createPayout(
                {
                  idempotencyKey: key,
                  merchantReference: key.slice(0, 60),
                  amount: { currency: "PKR", minorUnits: 100_000n },
                  destType: DestinationType.BANK,
                  bankCode: "HBL",
                  accountNumber: "1234569999",
                  accountTitle: "Bench",
                },
                { headers: { [MERCHANT_HEADER]: merchants[i % MERCHANTS]! } },
              );
              ids.push(res.payout!.id);
              break;
            } catch (err) {
              if (attempt >= 20) throw err;
              await sleep(20);
            }
          }
        }
      }),
    );
    return ids;
  }

  // 1. Throughput: 2,000 PENDING payouts created with no processor running, then one processor drains them.
  const api = await startService("payouts", { ...common, PAYOUTS_PROCESSOR: "false" });
  const db = await createConnection(url.toString());
  const q = async <T>(sql: string, params: unknown[] = []) => (await db.query(sql, params))[0] as T;
  const ms = (d: Date | string) => new Date(d).getTime();

  /** Waits until these payouts are all final; returns per-payout final times (updated_at, ms). */
  async function waitFinal(ids: string[], timeoutMs: number): Promise<Map<string, number>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await q<Array<{ n: number }>>(
        `select count(*) as n from payouts where status in ${FINAL} and id in (?)`,
        [ids],
      );
      if (Number(rows[0]?.n) === ids.length) break;
      if (Date.now() > deadline) throw new Error("payouts did not all become final in time");
      await sleep(50);
    }
    const rows = await q<Array<{ id: string; updated_at: Date }>>(
      "select id, updated_at from payouts where id in (?)",
      [ids],
    );
    return new Map(rows.map((r) => [r.id, ms(r.updated_at)]));
  }

  const createStart = performance.now();
  const backlog = await createPayouts(api.url, PAYOUTS, "drain");
  const createRate = PAYOUTS / ((performance.now() - createStart) / 1000);
  const worker = await startService("payouts", common);
  const finals = await waitFinal(backlog, 300_000);
  const [firstClaim] = await q<Array<{ t: Date }>>(
    "select min(at) as t from payout_transitions where to_status = 'PROCESSING' and payout_id in (?)",
    [backlog],
  );
  const start = ms(firstClaim!.t);
  const drainTimes = [...finals.values()].map((t) => t - start).sort((a, b) => a - b);
  const drainSeconds = Math.max(1, drainTimes.at(-1)!) / 1000;
  const rate = PAYOUTS / drainSeconds;

  // 2. Latency at half of the maximum rate (creating and settling together, so the slower of the two):
  //    payouts fed open-loop, PENDING (created) → final.
  const halfRate = Math.min(rate, createRate) / 2;
  const fed = Math.min(PAYOUTS, Math.max(100, Math.round(halfRate * 3)));
  const client = createRpcClient(PayoutService, worker.url, { timeoutMs: 30_000 });
  const fedIds: string[] = [];
  const feedStart = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < fed; i++) {
    const due = feedStart + (i / halfRate) * 1000;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inflight.push(
      client
        .createPayout(
          {
            idempotencyKey: `half-${i}-${randomUUID()}`,
            merchantReference: `half-${i}`,
            amount: { currency: "PKR", minorUnits: 100_000n },
            destType: DestinationType.BANK,
            bankCode: "HBL",
            accountNumber: "1234569999",
            accountTitle: "Bench",
          },
          { headers: { [MERCHANT_HEADER]: merchants[i % MERCHANTS]! } },
        )
        .then((res) => {
          fedIds.push(res.payout!.id);
        }),
    );
  }
  await Promise.allSettled(inflight);
  const halfFinals = await waitFinal(fedIds, 120_000);
  // Creation times from the database too, so both ends of each latency are read the same way.
  const createdRows = await q<Array<{ id: string; created_at: Date }>>(
    "select id, created_at from payouts where id in (?)",
    [fedIds],
  );
  const created = new Map(createdRows.map((r) => [r.id, ms(r.created_at)]));
  const halfLatencies = [...created].map(([id, t]) => halfFinals.get(id)! - t).sort((a, b) => a - b);
  // Where the time goes: waiting to be claimed, then claim → final commit.
  const claims = await q<Array<{ payout_id: string; t: Date }>>(
    "select payout_id, min(at) as t from payout_transitions where to_status = 'PROCESSING' and payout_id in (?) group by payout_id",
    [[...created.keys()]],
  );
  const claimAt = new Map(claims.map((c) => [c.payout_id, ms(c.t)]));
  const toClaim = [...created].map(([id, t]) => claimAt.get(id)! - t).sort((a, b) => a - b);
  const claimToFinal = [...created].map(([id]) => halfFinals.get(id)! - claimAt.get(id)!).sort((a, b) => a - b);
  await stop(worker.child);
  await stop(api.child);

  // 3. Seed mode over a fixed window: the old poller's configuration, extrapolated to the same backlog.
  const seedApi = await startService("payouts", { ...common, PAYOUTS_PROCESSOR: "false" });
  const seedBacklog = await createPayouts(seedApi.url, 100, "seed");
  await stop(seedApi.child);
  const seedWorker = await startService("payouts", {
    LEDGER_URL: ledgerProc.url,
    NOTIFIER_URL: notifierProc.url,
    PAYOUTS_SEED_MODE: "true",
  });
  // The old poller commits a whole batch (10 payouts, ~10 s) at once, so the count at the end of a fixed
  // window jumps by 10 with a few hundred ms of start-up: the rate is taken at the window's last commit.
  const windowStart = Date.now();
  let finalised = 0;
  let lastCommitAt = windowStart;
  while (Date.now() - windowStart < SEED_SECONDS * 1000) {
    await sleep(200);
    const [done] = await q<Array<{ n: number }>>(
      `select count(*) as n from payouts where status in ${FINAL} and id in (?)`,
      [seedBacklog],
    );
    const n = Number(done?.n ?? 0);
    if (n > finalised) {
      finalised = n;
      lastCommitAt = Date.now();
    }
  }
  const seedWindow = (Date.now() - windowStart) / 1000;
  const seedSeconds = (lastCommitAt - windowStart) / 1000;
  await stop(seedWorker.child);
  const seedRate = finalised / seedSeconds;
  // A backlog of N drains in order at seedRate: payout i is final after i/seedRate seconds.
  const seedP = (p: number) => ((p / 100) * PAYOUTS) / seedRate;

  await db.end();
  console.log(
    `\npayouts benchmark — ${PAYOUTS} payouts across ${MERCHANTS} merchants, bank delay 0, ${url.protocol}//…`,
  );
  console.log(`  create:     ${createRate.toFixed(0)} payouts/s created (32 callers, holds included)`);
  console.log(`  drain:      ${rate.toFixed(0)} finalised/s  (${drainSeconds.toFixed(2)} s for ${PAYOUTS})`);
  console.log(
    `              PENDING → final over the drain p50 ${percentile(drainTimes, 50)} ms, p99 ${percentile(drainTimes, 99)} ms`,
  );
  console.log(
    `  half rate:  ${halfRate.toFixed(0)}/s fed for ${fed} payouts: PENDING → final p50 ${percentile(halfLatencies, 50)} ms, p99 ${percentile(halfLatencies, 99)} ms`,
  );
  console.log(
    `              of which created → claimed p50 ${percentile(toClaim, 50)} ms, p99 ${percentile(toClaim, 99)} ms; claimed → final p50 ${percentile(claimToFinal, 50)} ms, p99 ${percentile(claimToFinal, 99)} ms`,
  );
  console.log(
    `  seed mode:  ${seedRate.toFixed(2)} finalised/s (${finalised} by its last commit, ${seedSeconds.toFixed(1)} s into a ${seedWindow.toFixed(0)} s window); ${PAYOUTS} would take ${(PAYOUTS / seedRate).toFixed(0)} s, p50 ${seedP(50).toFixed(0)} s, p99 ${seedP(99).toFixed(0)} s (extrapolated)`,
  );
  console.log(`  ratio:      ${(rate / seedRate).toFixed(0)}× the seed mode's throughput (target ≥ 500×)`);
}

try {
  await main();
} finally {
  await Promise.all(children.map(stop));
  await dropTestDatabases(storage);
}
