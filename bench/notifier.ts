/**
 * Webhook delivery benchmark: `npm run bench:notifier`.
 *
 * Starts the notifier as its own process on fresh databases (MySQL/MariaDB when MYSQL_URL or
 * DATABASE_URL is set, embedded SQLite otherwise), registers loopback receivers, publishes events
 * over RPC and measures, from the Publish call to the receiver's receipt:
 *   1. burst: 10,000 events to 10 receivers published at once → deliveries/s;
 *   2. paced: 10,000 events at BENCH_RATE/s → deliveries/s and latency p50/p99;
 *   3. paced again with one of the 10 receivers never answering (it times out): the other nine
 *      must keep their rate and latency.
 * Bounded in time (BENCH_DEADLINE_S), and drops its databases at the end.
 *
 * Settings: BENCH_EVENTS (10000), BENCH_RECEIVERS (10), BENCH_RATE (2000), BENCH_DEADLINE_S (240).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import {
  createRpcClient,
  dropTestDatabases,
  freePort,
  hasExited,
  MERCHANT_HEADER,
  storageEnv,
  testStorage,
  waitUntilReady,
} from "@mypay/kit";
import { NotifierService, WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { serviceNodeFlags } from "../scripts/service-node-flags.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const RECEIVERS = Number(process.env.BENCH_RECEIVERS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? 240) * 1000;
/** Events per Publish call (the payouts relay publishes up to its outbox batch, 200). */
const PUBLISH_BATCH = 200;
/** The notifier's attempt timeout here: short, so a never-answering receiver is visible but bounded. */
const TIMEOUT_MS = 5_000;

const root = resolve(import.meta.dirname, "..");
const storage = testStorage();
const started = performance.now();
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const timeLeft = () => DEADLINE_MS - (performance.now() - started);

interface Receiver {
  url: string;
  /** Receipt latency (ms from the Publish call) of each distinct webhook-id. */
  latencies: Map<string, number>;
  server: Server;
}

/** When each event's Publish call started (performance.now()). */
const publishedAt = new Map<string, number>();

async function startReceiver(hang: boolean): Promise<Receiver> {
  const latencies = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (hang) return; // never answers: every attempt times out
      const now = performance.now();
      const id = String(req.headers["webhook-id"]);
      const { eventId } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { eventId: string };
      const sent = publishedAt.get(eventId);
      if (sent !== undefined && !latencies.has(id)) latencies.set(id, now - sent);
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/webhooks`, latencies, server };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const notifier = spawn(process.execPath, [...serviceNodeFlags(), "services/notifier/src/main.ts"], {
  cwd: root,
  env: {
    ...process.env,
    ...storageEnv(storage),
    NOTIFIER_PORT: String(port),
    NOTIFIER_TIMEOUT_MS: String(TIMEOUT_MS),
    // One attempt then a long wait: the timing-out receiver's retries stay out of the measurement.
    NOTIFIER_RETRY_SCHEDULE: "0s,1h",
    LOG_LEVEL: "error",
  },
  stdio: ["ignore", "inherit", "inherit"],
});
const receivers: Receiver[] = [];

async function cleanUp(): Promise<void> {
  if (!hasExited(notifier)) {
    // A graceful stop first (it waits for attempts in flight), then no more waiting.
    notifier.kill("SIGTERM");
    const exited = once(notifier, "exit");
    const timer = setTimeout(() => notifier.kill("SIGKILL"), TIMEOUT_MS + 5_000);
    await exited;
    clearTimeout(timer);
  }
  for (const r of receivers) r.server.closeAllConnections();
  await Promise.all(receivers.map((r) => new Promise((done) => r.server.close(done))));
  await dropTestDatabases(storage);
}

try {
  await waitUntilReady(notifier, base, { name: "the notifier", withinMs: Math.max(0, Math.round(timeLeft())) });
  const events = createRpcClient(NotifierService, base, { timeoutMs: 30_000 });
  const endpoints = createRpcClient(WebhookEndpointService, base, { timeoutMs: 10_000 });
  console.log(
    `notifier on ${storage.DATABASE_URL ? "a MySQL/MariaDB server" : "embedded SQLite"}: ` +
      `${EVENTS} events to ${RECEIVERS} loopback receivers per run, paced runs at ${RATE}/s\n`,
  );

  /** One run: fresh merchants and receivers, `hanging` of which never answer. */
  const run = async (name: string, pace: number | undefined, hanging: number) => {
    const set = await Promise.all(Array.from({ length: RECEIVERS }, (_, i) => startReceiver(i < hanging)));
    receivers.push(...set);
    const merchants = set.map((_, i) => `mch_bench_${name}_${i}`);
    for (const [i, receiver] of set.entries()) {
      await endpoints.createEndpoint({ url: receiver.url }, { headers: { [MERCHANT_HEADER]: merchants[i]! } });
    }
    const healthy = set.slice(hanging);
    const expected = Math.floor(EVENTS / RECEIVERS) * healthy.length;
    const first = performance.now();
    const publishing = (async () => {
      for (let sent = 0; sent < EVENTS; sent += PUBLISH_BATCH) {
        const batch = Array.from({ length: Math.min(PUBLISH_BATCH, EVENTS - sent) }, (_, j) => {
          const n = sent + j;
          const eventId = `evt_${name}_${n}`;
          return {
            id: eventId,
            type: "payout.updated",
            merchantId: merchants[n % RECEIVERS]!,
            payloadJson: JSON.stringify({ type: "payout.updated", eventId, payoutId: `po_${n}`, status: "SUCCESS" }),
          };
        });
        const at = performance.now();
        for (const e of batch) publishedAt.set(e.id, at);
        await events.publish({ events: batch });
        if (pace !== undefined) {
          const due = first + ((sent + batch.length) / pace) * 1000;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
        }
      }
    })();
    const received = () => healthy.reduce((n, r) => n + r.latencies.size, 0);
    await publishing;
    const publishSeconds = (performance.now() - first) / 1000;
    while (received() < expected && timeLeft() > 0) await sleep(20);
    const elapsed = (performance.now() - first) / 1000;
    const latencies = healthy.flatMap((r) => [...r.latencies.values()]).sort((a, b) => a - b);
    const line = [
      name.padEnd(28),
      `${received()}/${expected} delivered`.padEnd(22),
      `${Math.round(received() / elapsed)} deliveries/s`.padEnd(20),
      `p50 ${percentile(latencies, 50).toFixed(1)} ms`.padEnd(14),
      `p99 ${percentile(latencies, 99).toFixed(1)} ms`.padEnd(14),
      `(published in ${publishSeconds.toFixed(1)} s)`,
    ].join(" ");
    console.log(line);
    if (received() < expected) console.log(`  (deadline reached before every delivery arrived)`);
  };

  await run("burst", undefined, 0);
  await run("paced", RATE, 0);
  await run("paced, 1 receiver hangs", RATE, 1);
  console.log(`\n(the hanging receiver's attempts time out after ${TIMEOUT_MS} ms; its endpoint holds at most`);
  console.log(` NOTIFIER_ENDPOINT_CONCURRENCY delivery slots, so the other receivers keep their pace)`);
} finally {
  await cleanUp();
}
