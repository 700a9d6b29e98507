/**
 * End-to-end benchmark: what a merchant experiences, against the machine's own limits, in one run.
 *   npm run bench -- [--quick] [--soak] [--soak-minutes N] [--seconds N] [--concurrency N] [--merchants N]
 *                    [--target http://127.0.0.1:8080]
 * See bench/README.md for the method. Loopback only, bounded in time; drops the databases of the meshes it
 * starts (a running mesh named by --target keeps its data).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { dropTestDatabases, freePort, type StorageSettings } from "@mypay/kit";
import { verifyWebhook } from "@mypay/sdk";
import { Pool } from "undici";
import { type RunningMesh, startMesh } from "../e2e/mesh.ts";
import { bareHttpRate, httpGetRate, rawCommitRate } from "./lib/baselines.ts";
import { databaseCpuSeconds, ownCpuSeconds } from "./lib/cpu.ts";
import { type DatabaseWork, DatabaseWorkMeter, WORK_HEADING, workPer, workText } from "./lib/db-work.ts";
import { closedLoop, openLoop, percentile, progress } from "./lib/load.ts";
import { seedRate } from "./lib/seed-rate.ts";
import { sampleService, watchServices } from "./lib/service-stats.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    soak: { type: "boolean", default: false },
    "soak-minutes": { type: "string", default: "10" },
    seconds: { type: "string" },
    concurrency: { type: "string", default: "64" },
    merchants: { type: "string", default: "50" },
    target: { type: "string" },
  },
});
const phaseMs = 1000 * Number(values.seconds ?? (values.quick ? 3 : 15));
const concurrency = Number(values.concurrency);
const merchantCount = Number(values.merchants);
const soakMinutes = Number(values["soak-minutes"]);
if (!Number.isInteger(soakMinutes) || soakMinutes < 2) usageError("--soak-minutes must be a whole number ≥ 2");
if (!Number.isInteger(merchantCount) || merchantCount < 1) usageError("--merchants must be a whole number ≥ 1");
const target = values.target === undefined ? undefined : loopbackTarget(values.target);
// The gateway's own setting and default, so a mesh the bench starts and a running one agree.
const ADMIN_KEY = process.env.ADMIN_API_KEY?.trim() || "mypay_admin_sandbox_7d2e9b4c1a6f3e80";
const serverUrl = process.env.MYSQL_URL || process.env.DATABASE_URL || "mysql://root@127.0.0.1:3306";
const runId = `bench${Date.now().toString(36)}`;
const storageFor = (name: string): StorageSettings => ({
  DATABASE_URL: serverUrl,
  DATABASE_PREFIX: `${runId}${name}`,
  DATA_DIR: join(".data", runId),
});

/**
 * A webhook receiver that verifies every signature and notes when each payout's final event arrived.
 * Each merchant's endpoint has its own path (`/hooks/<merchant>`), which picks the secret to verify with.
 */
class Receiver {
  readonly final = new Map<string, { at: number; data: { createdAt: string; processedAt: string | null } }>();
  badSignatures = 0;
  readonly secrets = new Map<string, string>();
  #server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        try {
          const event = await verifyWebhook<{
            payoutId: string;
            status: string;
            data: { createdAt: string; processedAt: string | null };
          }>(
            Buffer.concat(chunks).toString("utf8"),
            req.headers as Record<string, string>,
            this.secrets.get(req.url ?? "") ?? "",
          );
          if (event.status === "SUCCESS" && !this.final.has(event.payoutId)) {
            this.final.set(event.payoutId, { at: performance.now(), data: event.data });
          }
        } catch {
          this.badSignatures++;
        }
        res.writeHead(200).end();
      });
    });
    this.port = await freePort();
    await new Promise<void>((r) => this.#server!.listen(this.port, "127.0.0.1", r));
  }

  close(): void {
    this.#server?.close();
  }
}

/** Drives creates through the gateway's REST API and follows each payout to its SUCCESS webhook. */
class PayoutDriver {
  readonly createdAt = new Map<string, number>();
  /** The API key of each created payout's merchant. */
  readonly keyOf = new Map<string, string>();
  readonly failures = new Map<string, number>();
  readonly receiver: Receiver;
  /** One API key per merchant; creates go to the merchants in turn. */
  readonly apiKeys: string[] = [];
  readonly #gateway: Pool;
  #n = 0;

  constructor(mesh: MeshUnderTest, receiver: Receiver) {
    this.receiver = receiver;
    this.#gateway = new Pool(mesh.gatewayUrl, { connections: concurrency });
  }

  async #call<T>(method: "POST" | "GET", path: string, key: string, body?: unknown): Promise<T> {
    const res = await this.#gateway.request({
      method,
      path,
      headers: { "x-api-key": key, "content-type": "application/json", "idempotency-key": `${runId}-${path}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = await res.body.json();
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${JSON.stringify(answer)}`);
    return answer as T;
  }

  /** Opens `merchantCount` merchants (admin API): each funded, with an API key and a webhook endpoint of its own. */
  async openMerchants(): Promise<void> {
    for (let i = 0; i < merchantCount; i++) {
      const id = `${runId}-m${i}`;
      await this.#call("POST", "/api/v1/admin/merchants", ADMIN_KEY, { id, name: `Bench merchant ${i}` });
      await this.#call("POST", `/api/v1/admin/merchants/${id}/top-ups`, ADMIN_KEY, {
        amount: "10000000.00",
        currency: "PKR",
      });
      const { key } = await this.#call<{ key: string }>("POST", `/api/v1/admin/merchants/${id}/api-keys`, ADMIN_KEY);
      const path = `/hooks/${id}`;
      const { secret } = await this.#call<{ secret: string }>("POST", "/api/v1/webhook-endpoints", key, {
        url: `http://127.0.0.1:${this.receiver.port}${path}`,
      });
      this.receiver.secrets.set(path, secret);
      this.apiKeys.push(key);
    }
  }

  readonly create = async (): Promise<boolean> => {
    const n = this.#n++;
    const t0 = performance.now();
    const apiKey = this.apiKeys[n % this.apiKeys.length]!;
    const res = await this.#gateway.request({
      method: "POST",
      path: "/api/v1/payouts",
      headers: {
        "x-api-key": apiKey,
        "content-type": "application/json",
        "x-idempotency-key": `${runId}-${n}`,
      },
      body: JSON.stringify({
        merchantReference: `bench-${n}`,
        amount: "1.00",
        currency: "PKR",
        destType: "BANK",
        bankCode: "HBL",
        accountNumber: "1234560001",
        accountTitle: "Bench",
      }),
    });
    const body = (await res.body.json()) as { id?: string; error?: { code: string } };
    if (res.statusCode !== 201 || !body.id) {
      const key = `${res.statusCode} ${body.error?.code ?? ""}`.trim();
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      return false;
    }
    this.createdAt.set(body.id, t0);
    this.keyOf.set(body.id, apiKey);
    return true;
  };

  /** Waits until every created payout's SUCCESS webhook arrived (or `ms` passed); returns how many are missing. */
  async settle(ms: number): Promise<number> {
    const deadline = Date.now() + ms;
    const done = progress("waiting for every SUCCESS webhook", deadline);
    const missing = () => [...this.createdAt.keys()].filter((id) => !this.receiver.final.has(id)).length;
    while (missing() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    done();
    return missing();
  }

  /** Created → webhook received, and PENDING → SUCCESS (the payout's own timestamps), for payouts created by this driver since `from`. */
  latencies(ids: Iterable<string>) {
    const toWebhook: number[] = [];
    const toSuccess: number[] = [];
    for (const id of ids) {
      const final = this.receiver.final.get(id);
      const t0 = this.createdAt.get(id);
      if (!final || t0 === undefined) continue;
      toWebhook.push(final.at - t0);
      if (final.data.processedAt) toSuccess.push(Date.parse(final.data.processedAt) - Date.parse(final.data.createdAt));
    }
    return { toWebhook: toWebhook.sort((a, b) => a - b), toSuccess: toSuccess.sort((a, b) => a - b) };
  }

  close(): Promise<void> {
    return this.#gateway.close();
  }
}

function usageError(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

/** `--target`: a running mesh's gateway on this machine (the bench sends load to loopback only). */
function loopbackTarget(value: string): URL {
  const url = URL.parse(value);
  if (url?.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
    usageError(
      `--target must be the gateway's http:// URL on this machine, such as http://127.0.0.1:8080 (got ${value})`,
    );
  }
  return url;
}

/** The mesh under load: its gateway, and where each service serves its /metrics. */
interface MeshUnderTest {
  gatewayUrl: string;
  metricsUrls: Record<string, string>;
}

/**
 * The running mesh named by `--target`. Its other services are found on the same host at the ports their
 * settings name (`LEDGER_PORT`, `PAYOUTS_PORT`, `NOTIFIER_PORT`; the defaults of `npm start`); each must
 * answer on /metrics before any load is sent.
 */
async function targetMesh(gateway: URL): Promise<MeshUnderTest> {
  const at = (name: string, fallback: number) => `http://${gateway.hostname}:${process.env[name]?.trim() || fallback}`;
  const metricsUrls = {
    ledger: at("LEDGER_PORT", 50051),
    payouts: at("PAYOUTS_PORT", 50052),
    notifier: at("NOTIFIER_PORT", 50053),
    gateway: gateway.origin,
  };
  for (const [service, url] of Object.entries(metricsUrls)) {
    const ok = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2_000) }).then(
      async (res) => {
        await res.body?.cancel();
        return res.ok;
      },
      () => false,
    );
    if (!ok)
      usageError(`--target: no ${service} metrics at ${url}/metrics; set ${service.toUpperCase()}_PORT to its port`);
  }
  return { gatewayUrl: gateway.origin, metricsUrls };
}

/**
 * Runs `run` against a fresh mesh on its own databases (dropped afterwards), or against a `running` one,
 * whose settings and data are left as they are (its bench merchants stay).
 */
async function withMesh<T>(
  name: string,
  { env, running }: { env: Record<string, string>; running?: MeshUnderTest | undefined },
  run: (mesh: MeshUnderTest, driver: PayoutDriver) => Promise<T>,
) {
  const receiver = new Receiver();
  await receiver.start();
  let started: RunningMesh | undefined;
  let mesh = running;
  if (!mesh) {
    // The gateway's per-merchant rate limits would cap the measurement: the bench drives one merchant.
    started = await startMesh(storageFor(name), {
      LOG_LEVEL: "error",
      RATE_LIMIT_READ_PER_SEC: "0",
      RATE_LIMIT_WRITE_PER_SEC: "0",
      ...env,
    });
    const ports = Object.entries(started.ports).map(([key, port]) => [
      key.replace(/_PORT$/, "").toLowerCase(),
      `http://127.0.0.1:${port}`,
    ]);
    mesh = { gatewayUrl: started.gatewayUrl, metricsUrls: Object.fromEntries(ports) };
  }
  const driver = new PayoutDriver(mesh, receiver);
  try {
    await driver.openMerchants();
    return await run(mesh, driver);
  } finally {
    await driver.close();
    receiver.close();
    if (started) {
      await started.stop();
      await dropTestDatabases(storageFor(name));
    }
  }
}

const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : "n/a");
const rate = (v: number) => `${v.toFixed(0)}/s`;
const pcts = (sorted: number[], ps: number[]) => ps.map((p) => ms(percentile(sorted, p))).join(" / ");

console.log(
  `MyPay end-to-end benchmark · ${phaseMs / 1000} s phases · concurrency ${concurrency} · ${merchantCount} merchants · MariaDB/MySQL`,
);
// Checked before the baselines, so a wrong port fails at once.
const targeted = target ? await targetMesh(target) : undefined;
if (target) {
  console.log(
    `  load goes to the running mesh at ${target.origin} with its own settings: for figures comparable to the bench's own mesh, start it with BANK_DELAY_MS=0 RATE_LIMIT_READ_PER_SEC=0 RATE_LIMIT_WRITE_PER_SEC=0 on the database server of MYSQL_URL`,
  );
}

const rawHot = await rawCommitRate(serverUrl, `${runId}_raw_hot`, 1, concurrency, phaseMs);
const rawSpread = await rawCommitRate(serverUrl, `${runId}_raw_spread`, 1000, concurrency, phaseMs);
const bare = await bareHttpRate(concurrency, phaseMs);

interface CpuReading {
  services: number[];
  database: number;
  bench: number;
  work: DatabaseWork;
}

const meter = await DatabaseWorkMeter.open(serverUrl);

const mesh = await withMesh("mesh", { env: { BANK_DELAY_MS: "0" }, running: targeted }, async (running, driver) => {
  const watch = watchServices(running.metricsUrls);
  const cpuNow = async (): Promise<CpuReading> => ({
    services: await Promise.all(
      Object.values(running.metricsUrls).map(async (url) => (await sampleService(url)).cpuSeconds),
    ),
    database: databaseCpuSeconds(),
    bench: ownCpuSeconds(),
    work: await meter.read(),
  });
  /** CPU ms per settled payout of each process between two readings. */
  const cpuPerPayout = (before: CpuReading, after: CpuReading, settled: number) => {
    const perPayout = (end: number, start: number) => ((end - start) * 1000) / settled;
    return {
      services: Object.keys(running.metricsUrls).map((service, i) => ({
        service,
        ms: perPayout(after.services[i]!, before.services[i]!),
      })),
      database: perPayout(after.database, before.database),
      bench: perPayout(after.bench, before.bench),
      work: workPer(before.work, after.work, settled),
    };
  };
  /** An open-loop phase at `perSecond` creates/s, every payout followed to its SUCCESS webhook. */
  const openPhase = async (perSecond: number, label: string) => {
    const before = new Set(driver.createdAt.keys());
    const cpuBefore = await cpuNow();
    const load = await openLoop(perSecond, phaseMs, `${label}: ${perSecond} creates/s (open loop)`, driver.create);
    const unsettled = await driver.settle(60_000);
    const ids = [...driver.createdAt.keys()].filter((id) => !before.has(id));
    return {
      perSecond,
      load,
      unsettled,
      cpu: cpuPerPayout(cpuBefore, await cpuNow(), ids.length - unsettled),
      latency: driver.latencies(ids),
    };
  };
  const cpuBefore = await cpuNow();
  const loopStart = performance.now();
  const max = await closedLoop(concurrency, phaseMs, "max load: creates (closed loop)", driver.create);
  const maxIds = [...driver.createdAt.keys()];
  const unsettledMax = await driver.settle(120_000);
  const cpuMax = cpuPerPayout(cpuBefore, await cpuNow(), maxIds.length - unsettledMax);
  const lastReceipt = Math.max(...maxIds.map((id) => driver.receiver.final.get(id)?.at ?? 0));
  const settledPerSecond = (maxIds.length - unsettledMax) / ((lastReceipt - loopStart) / 1000);

  const halfRate = Math.max(1, Math.floor(settledPerSecond / 2));
  const half = await openPhase(halfRate, "half load");
  // A twentieth of the maximum: what the path itself costs when nothing queues for a core (left out of
  // --quick, which must finish in under a minute).
  const light = values.quick
    ? undefined
    : await openPhase(Math.max(1, Math.floor(settledPerSecond / 20)), "light load");

  const someId = maxIds[0] ?? "po_none";
  const gets = await httpGetRate(
    running.gatewayUrl,
    `/api/v1/payouts/${someId}`,
    { "x-api-key": driver.keyOf.get(someId) ?? "" },
    concurrency,
    phaseMs,
    "GET payout via gateway",
  );
  const services = await watch.stop();

  let soak:
    | {
        services: Array<{
          service: string;
          rssStartMb: number;
          rssMiddleMb: number;
          rssEndMb: number;
          loopP99Ms: number;
          /** Every sample: seconds into the soak, RSS in MB, event-loop delay p99 in ms. */
          series: Array<[number, number, number]>;
        }>;
        firstMinute: DatabaseWork;
        lastMinute: DatabaseWork;
      }
    | undefined;
  let soakErrors = 0;
  let soakUnsettled = 0;
  if (values.soak) {
    const soakWatch = watchServices(running.metricsUrls, 10_000);
    // The database's work per payout created in each minute: whether it grows as the tables do.
    const minutes: Array<{ work: DatabaseWork; created: number }> = [];
    const readMinute = async () => minutes.push({ work: await meter.read(), created: driver.createdAt.size });
    await readMinute();
    const everyMinute = setInterval(readMinute, 60_000);
    const soakStarted = Date.now();
    soakErrors = (
      await openLoop(
        halfRate,
        soakMinutes * 60_000,
        `soak: ${halfRate} creates/s for ${soakMinutes} min`,
        driver.create,
      )
    ).errors;
    clearInterval(everyMinute);
    soakUnsettled = await driver.settle(60_000);
    await soakWatch.stop();
    const minuteWork = (i: number) =>
      workPer(minutes[i]!.work, minutes[i + 1]!.work, minutes[i + 1]!.created - minutes[i]!.created);
    soak = {
      services: Object.keys(running.metricsUrls).map((service) => {
        const series = soakWatch.samples
          .filter((s) => s.service === service)
          .map(({ at, sample }): [number, number, number] => [
            Math.round((at - soakStarted) / 1000),
            Math.round(sample.rssBytes / 2 ** 20),
            Math.round(sample.eventLoopP99Seconds * 10_000) / 10,
          ]);
        // The first sample is taken before the soak's load starts; the middle one splits warm-up from steady state.
        const rssAt = (i: number) => series[i]?.[1] ?? Number.NaN;
        return {
          service,
          rssStartMb: rssAt(1),
          rssMiddleMb: rssAt(Math.floor(series.length / 2)),
          rssEndMb: rssAt(series.length - 1),
          loopP99Ms: Math.max(...series.map((s) => s[2])),
          series,
        };
      }),
      firstMinute: minuteWork(0),
      lastMinute: minuteWork(minutes.length - 2),
    };
  }
  return {
    max,
    cpuMax,
    settledPerSecond,
    half,
    light,
    gets,
    services,
    soak,
    soakErrors,
    unsettled: unsettledMax + half.unsettled + (light?.unsettled ?? 0) + soakUnsettled,
    badSignatures: driver.receiver.badSignatures,
    failures: Object.fromEntries(driver.failures),
  };
});

// The old system: 5 s poll, 10 rows a batch, one at a time, 1 s bank call. Always a mesh of the bench's
// own, also with --target: seed mode is a setting of the payouts service.
// The window opens once the backlog is in, so the time spent creating it is not counted against the seed.
const seedWindowMs = values.quick ? 20_000 : 30_000;
const seedEnv = { PAYOUTS_SEED_MODE: "true", BANK_DELAY_MS: "1000" };
const seed = await withMesh("seed", { env: seedEnv }, async (_running, driver) => {
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let i = 0; i < 10; i++) await driver.create();
    }),
  );
  const started = performance.now();
  const done = progress("seed configuration: settling", Date.now() + seedWindowMs);
  await new Promise((r) => setTimeout(r, seedWindowMs - (performance.now() - started)));
  done();
  const receipts = [...driver.receiver.final.values()]
    .map((f) => f.at - started)
    .filter((at) => at >= 0 && at <= seedWindowMs)
    .sort((a, b) => a - b);
  return seedRate(receipts, seedWindowMs);
});

function cpuText(cpu: typeof mesh.cpuMax): string {
  return [
    ...cpu.services.map((s) => `${s.service} ${s.ms.toFixed(2)}`),
    `database ${Number.isFinite(cpu.database) ? cpu.database.toFixed(2) : "n/a"}`,
    `bench ${cpu.bench.toFixed(2)}`,
  ].join(" · ");
}

/** The rows of one open-loop phase. */
function phaseRows(name: string, phase: typeof mesh.half): Array<[string, string]> {
  return [
    [`${name} (${phase.perSecond}/s): create p50 / p95 / p99`, pcts(phase.load.latencies, [50, 95, 99])],
    [`${name}: PENDING → SUCCESS p50 / p99`, pcts(phase.latency.toSuccess, [50, 99])],
    [`${name}: create → webhook received p50 / p99`, pcts(phase.latency.toWebhook, [50, 99])],
    [
      `${name}: creates sent late p99 · machine busy`,
      `${phase.load.lateP99?.toFixed(1)} ms · ${(100 * (phase.load.machineBusy ?? Number.NaN)).toFixed(0)} %`,
    ],
    [`${name}: CPU ms per settled payout`, cpuText(phase.cpu)],
    [`${name}: ${WORK_HEADING} per payout`, workText(phase.cpu.work)],
  ];
}

const createErrors = mesh.max.errors + mesh.half.load.errors + (mesh.light?.load.errors ?? 0) + mesh.soakErrors;
const errors = createErrors + mesh.gets.errors + mesh.badSignatures + mesh.unsettled;
const table: Array<[string, string]> = [
  ["raw commits/s: hot row / 1,000 rows", `${rate(rawHot.perSecond)} / ${rate(rawSpread.perSecond)}`],
  ["bare HTTP GET/s", rate(bare.perSecond)],
  ["max load: creates/s", rate(mesh.max.perSecond)],
  ["max load: settled payouts/s (→ SUCCESS webhook)", rate(mesh.settledPerSecond)],
  ["max load: CPU ms per settled payout", cpuText(mesh.cpuMax)],
  [`max load: ${WORK_HEADING} per payout`, workText(mesh.cpuMax.work)],
  ...phaseRows("half load", mesh.half),
  ...(mesh.light ? phaseRows("light load", mesh.light) : []),
  ["gateway GET payout/s", rate(mesh.gets.perSecond)],
  [
    "seed configuration: settled payouts/s",
    `${seed.perSecond.toFixed(2)}/s (${seed.settled} in ${seedWindowMs / 1000} s; ${seed.lowerBound ? "one batch: a lower bound" : "first batch to last"})`,
  ],
  ...mesh.services.map((s): [string, string] => [
    `${s.service}: peak RSS · CPU s`,
    `${s.peakRssMb.toFixed(0)} MB · ${s.cpuSeconds.toFixed(1)} s`,
  ]),
  ...(mesh.soak?.services ?? []).map((s): [string, string] => [
    `soak ${s.service}: RSS start → middle → end · loop p99`,
    `${s.rssStartMb} → ${s.rssMiddleMb} → ${s.rssEndMb} MB · ${s.loopP99Ms.toFixed(1)} ms`,
  ]),
  ...(mesh.soak
    ? ([
        [`soak, first minute: ${WORK_HEADING} per payout`, workText(mesh.soak.firstMinute)],
        [`soak, last minute: ${WORK_HEADING} per payout`, workText(mesh.soak.lastMinute)],
      ] as Array<[string, string]>)
    : []),
  [
    "errors (create, GET, bad signatures, unsettled)",
    `${createErrors}, ${mesh.gets.errors}, ${mesh.badSignatures}, ${mesh.unsettled}`,
  ],
  ["ratio settled/s ÷ raw spread commits/s", (mesh.settledPerSecond / rawSpread.perSecond).toFixed(3)],
  [
    "ratio mesh ÷ seed configuration",
    seed.perSecond > 0
      ? `${seed.lowerBound ? "≤ " : ""}${(mesh.settledPerSecond / seed.perSecond).toFixed(0)}×`
      : "n/a",
  ],
  ["ratio gateway GET ÷ bare HTTP", (mesh.gets.perSecond / bare.perSecond).toFixed(3)],
];
const width = Math.max(...table.map(([k]) => k.length));
for (const [k, v] of table) console.log(`  ${k.padEnd(width)}  ${v}`);
if (Object.keys(mesh.failures).length > 0) console.log(`  create failures by status: ${JSON.stringify(mesh.failures)}`);
mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
const file = join(import.meta.dirname, "results", `${new Date().toISOString().replaceAll(":", "-")}.json`);
const summary = {
  phaseMs,
  concurrency,
  target: target?.origin ?? null,
  table: Object.fromEntries(table),
  failures: mesh.failures,
  soakSeries: mesh.soak && Object.fromEntries(mesh.soak.services.map((s) => [s.service, s.series])),
};
writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`results written to ${file}`);
await meter.close();
process.exit(errors === 0 ? 0 : 1);
