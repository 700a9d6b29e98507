/**
 * Ledger benchmark: holds per second over real gRPC against a ledger process on MySQL/MariaDB, beside
 * the raw database baseline measured in the same run with mysql2 (one single-row UPDATE + COMMIT per
 * operation at the same concurrency). Prints the figures and the ratios the ledger issue targets.
 *
 *   npm run bench:ledger            (MYSQL_URL defaults to mysql://root@127.0.0.1:3306)
 *   BENCH_SECONDS=10 npm run bench:ledger
 *
 * Loopback only; creates fresh databases and drops them at the end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import {
  createRpcClient,
  dropTestDatabases,
  freePort,
  hasExited,
  type StorageSettings,
  storageEnv,
  waitUntilReady,
} from "@mypay/kit";
import { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { type Connection, createConnection } from "mysql2/promise";
import { serviceNodeFlags } from "../scripts/service-node-flags.ts";
import { databaseCpuSeconds, ownCpuSeconds } from "./lib/cpu.ts";
import { type DatabaseWork, DatabaseWorkMeter, WORK_HEADING, workPer, workText } from "./lib/db-work.ts";
import { collectGarbage, percentile, openLoop as sharedOpenLoop } from "./lib/load.ts";
import { sampleService } from "./lib/service-stats.ts";

const SERVER_URL = process.env.MYSQL_URL || process.env.DATABASE_URL || "mysql://root@127.0.0.1:3306";
/** Measured seconds per closed-loop phase (after a one-second warm-up); half-rate phases run 4/5 of it. */
const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const CALLERS = 64;
const MERCHANTS = 1_000;
const root = resolve(import.meta.dirname, "..");
const storage: StorageSettings = {
  DATABASE_URL: SERVER_URL,
  DATABASE_PREFIX: `bench${Date.now().toString(36)}${randomBytes(2).toString("hex")}`,
  DATA_DIR: join(tmpdir(), "mypay-bench-ledger"),
};

interface Figures {
  ops: number;
  /** CPU µs per operation: the ledger process, this process (the callers), the database server (NaN if remote). */
  cpu?: { ledger: number; client: number; database: number };
  /** The database server's work per operation (all its clients). */
  work?: DatabaseWork;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** Open loop: p99 of how late this process sent a call after its scheduled time. */
  lateP99?: number;
  /** Open loop: the share of the machine's CPU (all cores) in use meanwhile, 0–1. */
  machineBusy?: number;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function figures(latencies: number[], errors: number, seconds: number): Figures {
  const sorted = latencies.sort((a, b) => a - b);
  return {
    ops: sorted.length,
    perSecond: sorted.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors,
  };
}

/** `callers` loops calling `op` back to back: one warm-up second, then `seconds` measured. */
async function closedLoop(seconds: number, op: (caller: number) => Promise<void>, callers = CALLERS): Promise<Figures> {
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const loop = async (caller: number) => {
    while (!stop) {
      const started = performance.now();
      try {
        await op(caller);
        completed++;
        if (measuring) latencies.push(performance.now() - started);
      } catch {
        if (measuring) errors++;
      }
    }
  };
  collectGarbage();
  const running = Array.from({ length: callers }, (_, i) => loop(i));
  await sleep(1_000);
  measuring = true;
  const started = performance.now();
  await sleep(seconds * 1_000);
  measuring = false;
  const elapsed = (performance.now() - started) / 1_000;
  stop = true;
  await Promise.all(running);
  return figures(latencies, errors, elapsed);
}

/**
 * Calls at a fixed rate whatever the answers do (the shared open loop: latency counts from each call's
 * scheduled time, so queueing behind a slow call is measured rather than hidden).
 */
async function openLoop(seconds: number, perSecond: number, op: () => Promise<void>): Promise<Figures> {
  const result = await sharedOpenLoop(perSecond, seconds * 1_000, `open loop at ${Math.round(perSecond)}/s`, () =>
    op().then(() => {
      completed++;
      return true;
    }),
  );
  return {
    ...figures(result.latencies, result.errors, seconds),
    lateP99: result.lateP99,
    machineBusy: result.machineBusy,
  };
}

async function startLedger(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...serviceNodeFlags(), join(root, "services", "ledger", "src", "main.ts")], {
    cwd: root,
    env: {
      ...process.env,
      ...storageEnv(storage),
      LEDGER_PORT: String(port),
      LEDGER_HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      SEED_DEMO_MERCHANT: "false",
      LEDGER_INVARIANT_CHECK_SECONDS: "0",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  await waitUntilReady(child, `http://127.0.0.1:${port}`, { name: "ledger" }).catch((err: unknown) => {
    child.kill("SIGKILL");
    throw err;
  });
  return child;
}

/** The ledger process's CPU seconds so far, from its own metrics. */
const ledgerCpuSeconds = async (port: number) => (await sampleService(`http://127.0.0.1:${port}`)).cpuSeconds;

/**
 * Runs a load phase and adds the CPU each side spent and the database server's work, per operation while it
 * ran (warm-up included).
 */
async function withCpu(port: number, meter: DatabaseWorkMeter, run: () => Promise<Figures>): Promise<Figures> {
  const before = { ledger: await ledgerCpuSeconds(port), client: ownCpuSeconds(), database: databaseCpuSeconds() };
  const workBefore = await meter.read();
  const startOps = completed;
  const figures = await run();
  const ops = completed - startOps;
  const per = (after: number, start: number) => ((after - start) * 1e6) / ops;
  figures.cpu = {
    ledger: per(await ledgerCpuSeconds(port), before.ledger),
    client: per(ownCpuSeconds(), before.client),
    database: per(databaseCpuSeconds(), before.database),
  };
  figures.work = workPer(workBefore, await meter.read(), ops);
  return figures;
}

/** Operations completed since start (warm-up included), for CPU per operation. */
let completed = 0;

/** The ledger's group-commit figures so far, from its own metrics: mean batch size and retried conflicts. */
async function batchFigures(port: number): Promise<{ meanBatch: number; conflicts: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    meanBatch: value("ledger_batch_size_sum") / value("ledger_batch_size_count"),
    conflicts: value("ledger_conflicts_total") || 0,
  };
}

async function rawConnections(database: string): Promise<Connection[]> {
  const url = new URL(SERVER_URL);
  url.protocol = "mysql:";
  url.pathname = "/";
  const admin = await createConnection(url.toString());
  await admin.query(`CREATE DATABASE \`${database}\``);
  await admin.query(
    `CREATE TABLE \`${database}\`.bench_rows (id INT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB`,
  );
  const values = Array.from({ length: MERCHANTS }, (_, i) => `(${i + 1}, 1000000000)`).join(",");
  await admin.query(`INSERT INTO \`${database}\`.bench_rows VALUES ${values}`);
  await admin.end();
  url.pathname = `/${database}`;
  const connections = await Promise.all(Array.from({ length: CALLERS }, () => createConnection(url.toString())));
  for (const conn of connections) await conn.query("SET autocommit = 0");
  return connections;
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "–";
const row = (label: string, f: Figures) =>
  `  ${label.padEnd(22)} ${fmt(f.perSecond).padStart(8)} /s   p50 ${fmt(f.p50, 1).padStart(6)} ms   p99 ${fmt(f.p99, 1).padStart(6)} ms` +
  (f.lateP99 === undefined
    ? ""
    : `   (sent late p99 ${fmt(f.lateP99, 1)} ms; machine ${fmt(100 * (f.machineBusy ?? Number.NaN))} % busy)`) +
  (f.errors ? `   errors ${f.errors}` : "");

async function main(): Promise<void> {
  const port = await freePort();
  let ledgerProcess: ChildProcess | undefined;
  let raw: Connection[] = [];
  const meter = await DatabaseWorkMeter.open(SERVER_URL);
  try {
    ledgerProcess = await startLedger(port);
    const ledger = createRpcClient(LedgerService, `http://127.0.0.1:${port}`, { timeoutMs: 30_000 });
    const pkr = (minorUnits: bigint) => ({ currency: "PKR", minorUnits });
    const hot = "mch_bench_hot";
    const merchants = Array.from({ length: MERCHANTS }, (_, i) => `mch_bench_${i}`);
    await ledger.topUp({ merchantId: hot, idempotencyKey: "open-hot", amount: pkr(10n ** 14n) });
    let opened = 0;
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (opened < merchants.length) {
          const m = merchants[opened++]!;
          await ledger.topUp({ merchantId: m, idempotencyKey: `open-${m}`, amount: pkr(10n ** 12n) });
        }
      }),
    );

    let seq = 0;
    const holdOn = (merchantId: string) =>
      ledger.hold({ merchantId, holdId: `po_b${seq++}`, amount: pkr(100n) }).then(() => undefined);
    const pick = () => merchants[Math.floor(Math.random() * merchants.length)]!;
    console.log(`ledger bench: ${CALLERS} concurrent callers, ${SECONDS} s per phase, ${new URL(SERVER_URL).host}`);
    const hotFigures = await withCpu(port, meter, () => closedLoop(SECONDS, () => holdOn(hot)));
    const hotBatch = await batchFigures(port);
    const spreadFigures = await withCpu(port, meter, () => closedLoop(SECONDS, () => holdOn(pick())));
    const spreadBatch = await batchFigures(port);

    const rawDatabase = `${storage.DATABASE_PREFIX}_raw`;
    raw = await rawConnections(rawDatabase);
    const commitOn = (conn: Connection, id: number) =>
      conn
        .query("UPDATE bench_rows SET balance = balance - 1 WHERE id = ?", [id])
        .then(() => conn.query("COMMIT"))
        .then(() => undefined);
    const rawHot = await closedLoop(SECONDS, (caller) => commitOn(raw[caller]!, 1));
    const rawSpread = await closedLoop(SECONDS, (caller) =>
      commitOn(raw[caller]!, 1 + Math.floor(Math.random() * MERCHANTS)),
    );

    const halfSeconds = Math.max(2, Math.round((SECONDS * 4) / 5));
    const halfHot = await withCpu(port, meter, () =>
      openLoop(halfSeconds, hotFigures.perSecond / 2, () => holdOn(hot)),
    );
    const halfSpread = await withCpu(port, meter, () =>
      openLoop(halfSeconds, spreadFigures.perSecond / 2, () => holdOn(pick())),
    );

    console.log("\nledger Hold over gRPC (group commit):");
    console.log(row("one hot merchant", hotFigures));
    console.log(row(`${fmt(MERCHANTS)} merchants`, spreadFigures));
    console.log(
      `  mean group-commit size: hot ${fmt(hotBatch.meanBatch, 1)}, after spread ${fmt(spreadBatch.meanBatch, 1)}; ` +
        `conflicts retried: hot ${fmt(hotBatch.conflicts)}, spread ${fmt(spreadBatch.conflicts - hotBatch.conflicts)}`,
    );
    const work = (f: Figures) => (f.work ? workText(f.work) : "–");
    const cpu = (f: Figures) =>
      f.cpu ? `ledger ${fmt(f.cpu.ledger)}, callers ${fmt(f.cpu.client)}, database ${fmt(f.cpu.database)}` : "–";
    console.log(`  CPU µs per hold, hot: ${cpu(hotFigures)}`);
    console.log(`  CPU µs per hold, spread: ${cpu(spreadFigures)}`);
    console.log(`  ${WORK_HEADING} per hold, hot: ${work(hotFigures)}; spread: ${work(spreadFigures)}`);
    console.log("raw mysql2 baseline, UPDATE one row + COMMIT per operation:");
    console.log(row("one hot row", rawHot));
    console.log(row(`${fmt(MERCHANTS)} rows`, rawSpread));
    console.log("at half the maximum rate (open loop):");
    console.log(row(`hot @ ${fmt(hotFigures.perSecond / 2)}/s`, halfHot));
    console.log(row(`spread @ ${fmt(spreadFigures.perSecond / 2)}/s`, halfSpread));
    console.log(`  CPU µs per hold, hot: ${cpu(halfHot)}`);
    console.log(`  CPU µs per hold, spread: ${cpu(halfSpread)}`);
    console.log(`  ${WORK_HEADING} per hold, hot: ${work(halfHot)}; spread: ${work(halfSpread)}`);
    const hotRatio = hotFigures.perSecond / rawHot.perSecond;
    const spreadRatio = spreadFigures.perSecond / rawSpread.perSecond;
    console.log("ratios (targets: hot ≥ 1.0×, spread ≥ 0.5×, p99 at half rate ≤ 20 ms):");
    console.log(`  hot ÷ raw hot       ${fmt(hotRatio, 2)}×`);
    console.log(`  spread ÷ raw spread ${fmt(spreadRatio, 2)}×`);
    console.log(`  p99 at half rate    hot ${fmt(halfHot.p99, 1)} ms, spread ${fmt(halfSpread.p99, 1)} ms`);
  } finally {
    await Promise.all(raw.map((conn) => conn.end().catch(() => undefined)));
    await meter.close();
    if (ledgerProcess && !hasExited(ledgerProcess)) {
      const exited = new Promise((done) => ledgerProcess?.once("exit", done));
      ledgerProcess.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (!hasExited(ledgerProcess)) ledgerProcess.kill("SIGKILL");
    }
    await dropTestDatabases(storage);
  }
}

await main();
