/**
 * Gateway benchmark: GET payouts through the whole edge (auth, rate limit, REST → gRPC → payouts → its
 * database, JSON) at 64 keep-alive connections, each request reading the next of 256 payouts (so concurrent
 * reads are of different rows), against a bare Node HTTP server answering a fixed JSON body
 * in the same run (the machine's HTTP limit). Prints both and the ratio.
 *   npm run bench:gateway -- [--seconds N] [--rounds N] [--connections N]
 * A third phase runs a lone gateway in front of a stub payouts service answering a fixed payout: the
 * gateway's own ceiling, apart from the payouts service and its database.
 * The phases alternate for `rounds` rounds and the best round of each is kept, so a busy machine
 * skews both sides alike rather than whichever ran during a burst of other work.
 * Loopback only, bounded in time; uses embedded SQLite unless MYSQL_URL/DATABASE_URL is set, and drops
 * what it created.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  type DualListener,
  dropTestDatabases,
  freePort,
  hasExited,
  listenHttp1And2,
  type StorageSettings,
  storageEnv,
  waitUntilReady,
} from "@mypay/kit";
import {
  DestinationType,
  PayoutBatchService,
  PayoutSchema,
  PayoutService,
  PayoutStatus,
} from "@mypay/proto/mypay/payouts/v1/payouts";
import { type RunningMesh, startMesh } from "../e2e/mesh.ts";
import { serviceNodeFlags } from "../scripts/service-node-flags.ts";
import { bareHttpRate, httpGetRate } from "./lib/baselines.ts";
import { type LoadResult, percentile } from "./lib/load.ts";
import { sampleService } from "./lib/service-stats.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "2" },
    connections: { type: "string", default: "64" },
  },
});
const ms = 1000 * Math.min(120, Math.max(1, Number(values.seconds)));
const rounds = Math.min(10, Math.max(1, Number(values.rounds)));
const connections = Math.min(1024, Math.max(1, Number(values.connections)));
const API_KEY = "mypay_test_sandbox_4f7c2a9e1b3d5f60";
/** Distinct payouts the GETs cycle through. */
const PAYOUTS = 256;
const runId = `benchgw${Date.now().toString(36)}`;
const serverUrl = process.env.MYSQL_URL || process.env.DATABASE_URL;
const storage: StorageSettings = {
  ...(serverUrl ? { DATABASE_URL: serverUrl } : {}),
  DATABASE_PREFIX: runId,
  DATA_DIR: join(".data", runId),
};
/** The lone gateway's own database, apart from the mesh's. */
const loneStorage: StorageSettings = {
  ...storage,
  DATABASE_PREFIX: `${runId}lone`,
  DATA_DIR: join(".data", `${runId}lone`),
};

function line(label: string, r: LoadResult): string {
  const p = (n: number) => percentile(r.latencies, n).toFixed(2);
  return `${label.padEnd(34)} ${r.perSecond.toFixed(0).padStart(7)} req/s   p50 ${p(50)} ms   p99 ${p(99)} ms   errors ${r.errors}`;
}

type Measured = LoadResult & { cpu: string };

/**
 * Runs a phase and tells the CPU time each process spent per successful request: this process (the load
 * generator, and whatever it serves itself) and the services behind `metricsUrls` (from their own /metrics).
 */
async function measured(metricsUrls: Record<string, string>, phase: () => Promise<LoadResult>): Promise<Measured> {
  const sample = () => Promise.all(Object.values(metricsUrls).map((url) => sampleService(url)));
  const before = await sample();
  const own = process.cpuUsage();
  const result = await phase();
  const { user, system } = process.cpuUsage(own);
  const after = await sample();
  const perRequest = (seconds: number) => `${((seconds * 1e6) / Math.max(1, result.ops)).toFixed(0)} µs`;
  const services = Object.keys(metricsUrls).map(
    (name, i) => `${name} ${perRequest((after[i]?.cpuSeconds ?? 0) - (before[i]?.cpuSeconds ?? 0))}`,
  );
  return { ...result, cpu: [`this process ${perRequest((user + system) / 1e6)}`, ...services].join(", ") };
}

/** Mean of the gateway's `gateway_payout_read_batch_size` histogram. */
async function meanReadBatch(gatewayUrl: string): Promise<number> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m").exec(text)?.[1]);
  return value("gateway_payout_read_batch_size_sum") / value("gateway_payout_read_batch_size_count");
}

/** A payouts service that answers every GetPayout and BatchGetPayouts with one fixed payout, from memory. */
async function startStubPayouts(): Promise<DualListener> {
  const payout = create(PayoutSchema, {
    id: "po_stub",
    merchantId: "mch_sandbox",
    merchantReference: "bench",
    amount: { currency: "PKR", minorUnits: 1000n },
    status: PayoutStatus.SUCCESS,
    destType: DestinationType.BANK,
    bankCode: "HBL",
    accountNumber: "1234560001",
    accountTitle: "Bench",
    pspReference: "PSPBENCH",
    attempts: 1,
    createdAt: timestampNow(),
    updatedAt: timestampNow(),
    processedAt: timestampNow(),
  });
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(PayoutService, { getPayout: async () => ({ payout }) }).service(PayoutBatchService, {
        batchGetPayouts: async (req) => ({ payouts: req.ids.map((id) => ({ ...payout, id })) }),
      }),
  });
  return listenHttp1And2(handler, 0, "127.0.0.1");
}

/** Starts the gateway process alone, its payouts calls going to `payoutsUrl`; resolves when it is ready. */
async function startLoneGateway(payoutsUrl: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...serviceNodeFlags(), resolve(import.meta.dirname, "../services/gateway/src/main.ts")],
    {
      env: {
        ...process.env,
        ...storageEnv(loneStorage),
        GATEWAY_PORT: String(port),
        PAYOUTS_URL: payoutsUrl,
        LOG_LEVEL: "error",
        RATE_LIMIT_READ_PER_SEC: "0",
        RATE_LIMIT_WRITE_PER_SEC: "0",
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, url, { name: "lone gateway", withinMs: 30_000 }).catch((err: unknown) => {
    child.kill("SIGTERM");
    throw err;
  });
  return { url, child };
}

let mesh: RunningMesh | undefined;
let stub: DualListener | undefined;
let lone: { url: string; child: ChildProcess } | undefined;
try {
  console.log(
    `gateway bench: ${connections} connections, ${rounds} × ${ms / 1000} s per phase, ${serverUrl ? "MySQL" : "SQLite"}`,
  );
  mesh = await startMesh(storage, {
    BANK_DELAY_MS: "0",
    LOG_LEVEL: "error",
    // The edge's limits would otherwise be what is measured.
    RATE_LIMIT_READ_PER_SEC: "0",
    RATE_LIMIT_WRITE_PER_SEC: "0",
  });
  const headers = { "x-api-key": API_KEY };
  const gatewayUrl = mesh.gatewayUrl;
  const create = async (n: number) => {
    const res = await fetch(`${gatewayUrl}/api/v1/payouts`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", "x-idempotency-key": `bench-gateway-${n}` },
      body: JSON.stringify({
        merchantReference: `bench-gateway-${n}`,
        amount: "10.00",
        currency: "PKR",
        destType: "BANK",
        bankCode: "HBL",
        accountNumber: "1234560001",
        accountTitle: "Bench",
      }),
    });
    if (res.status !== 201) throw new Error(`create payout answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  };
  // Each request reads the next of these payouts, so concurrent reads are of different rows.
  const ids = await Promise.all(Array.from({ length: PAYOUTS }, (_, n) => create(n)));
  const payoutPath = (n: number) => `/api/v1/payouts/${ids[n % ids.length]}`;
  const stubPath = (n: number) => `/api/v1/payouts/po_stub${n % PAYOUTS}`;

  // Warm both paths (JIT, connection pools) before measuring.
  await httpGetRate(mesh.gatewayUrl, payoutPath, headers, connections, 1000, "warm-up");
  const best = (a: Measured | undefined, b: Measured) => (a && a.perSecond >= b.perSecond ? a : b);
  stub = await startStubPayouts();
  lone = await startLoneGateway(`http://127.0.0.1:${stub.port}`);
  await httpGetRate(lone.url, stubPath, headers, connections, 1000, "warm-up");

  const meshMetrics = { gateway: mesh.gatewayUrl, payouts: `http://127.0.0.1:${mesh.ports.PAYOUTS_PORT}` };
  const loneMetrics = { gateway: lone.url };
  let bare: Measured | undefined;
  let gateway: Measured | undefined;
  let edge: Measured | undefined;
  for (let round = 0; round < rounds; round++) {
    bare = best(bare, await measured({}, () => bareHttpRate(connections, ms)));
    gateway = best(
      gateway,
      await measured(meshMetrics, () =>
        httpGetRate(meshMetrics.gateway, payoutPath, headers, connections, ms, "gateway GET"),
      ),
    );
    edge = best(
      edge,
      await measured(loneMetrics, () =>
        httpGetRate(loneMetrics.gateway, stubPath, headers, connections, ms, "edge GET"),
      ),
    );
  }
  if (!bare || !gateway || !edge) throw new Error("no round ran");

  console.log(line("bare Node HTTP (fixed JSON)", bare));
  console.log(line("gateway GET /api/v1/payouts/{id}", gateway));
  console.log(line("gateway over a stub payouts", edge));
  console.log(`CPU per request, bare: ${bare.cpu} (server and load generator in one process)`);
  console.log(`CPU per request, gateway: ${gateway.cpu} (the database server's not counted)`);
  console.log(`CPU per request, over the stub: ${edge.cpu} (the stub runs in this process)`);
  const readBatches = await meanReadBatch(gatewayUrl);
  console.log(`mean coalesced read through the mesh (whole run): ${readBatches.toFixed(1)} payouts per call`);
  console.log(`ratio gateway / bare: ${(gateway.perSecond / bare.perSecond).toFixed(3)}× (target ≥ 0.25×)`);
  console.log(`ratio gateway over stub / bare: ${(edge.perSecond / bare.perSecond).toFixed(3)}× (the edge alone)`);
  if (gateway.errors > 0 || edge.errors > 0) process.exitCode = 1;
} finally {
  if (lone && !hasExited(lone.child)) {
    const exited = new Promise((done) => lone?.child.once("exit", done));
    lone.child.kill("SIGTERM");
    await exited;
  }
  await stub?.close();
  const code = await mesh?.stop();
  if (code !== undefined && code !== 0) console.error(mesh?.output.slice(-20).join("\n"));
  await dropTestDatabases(storage);
  await dropTestDatabases(loneStorage);
}
