/**
 * Starts the whole mesh as separate processes (ledger, notifier, payouts, gateway), prefixes their
 * logs, waits until every one is ready, then prints the gateway URL and the sandbox API key.
 * Ctrl-C (or SIGTERM) stops them all; if one dies on its own, the rest are stopped and this exits 1.
 *
 * Ports come from LEDGER_PORT, NOTIFIER_PORT, PAYOUTS_PORT and GATEWAY_PORT (defaults 50051, 50053,
 * 50052, 8080); every other variable is passed through to the services.
 *
 * Each service runs with a bounded V8 heap (see service-node-flags.ts) and Node's compile cache (in the
 * project's .data folder unless NODE_COMPILE_CACHE says otherwise), which keeps the type-stripped
 * sources. The cache is filled before the services start (warm-compile-cache.ts), so none of them
 * strips types or loads the stripper (about 15 MB per process), even on the first start after a change.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { hasExited, parseConfig, port, probeReadiness } from "@mypay/kit";
import { SANDBOX_ADMIN_API_KEY, SANDBOX_API_KEY } from "../services/gateway/src/config.ts";
import { ensureConsoleBuilt } from "./ensure-console.ts";
import { serviceNodeFlags } from "./service-node-flags.ts";

const ports = parseConfig({
  LEDGER_PORT: port(50051),
  PAYOUTS_PORT: port(50052),
  NOTIFIER_PORT: port(50053),
  GATEWAY_PORT: port(8080),
});
const nodeFlags = serviceNodeFlags();
const root = resolve(import.meta.dirname, "..");
const host = "127.0.0.1";
const url = (p: number) => `http://${host}:${p}`;
const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  LEDGER_URL: url(ports.LEDGER_PORT),
  PAYOUTS_URL: url(ports.PAYOUTS_PORT),
  NOTIFIER_URL: url(ports.NOTIFIER_PORT),
  NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE || join(root, ".data", "compile-cache"),
};
const services = [
  { name: "ledger", port: ports.LEDGER_PORT, color: 36 },
  { name: "notifier", port: ports.NOTIFIER_PORT, color: 35 },
  { name: "payouts", port: ports.PAYOUTS_PORT, color: 33 },
  { name: "gateway", port: ports.GATEWAY_PORT, color: 32 },
];
const useColor = process.stdout.isTTY;
const children = new Map<string, ChildProcess>();
let stopping = false;

function prefix(name: string, color: number): string {
  const label = `[${name}]`.padEnd(11);
  return useColor ? `\x1b[${color}m${label}\x1b[0m` : label;
}

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  const alive = [...children.values()].filter((c) => !hasExited(c));
  for (const child of alive) child.kill("SIGTERM");
  const force = setTimeout(() => {
    for (const child of alive) child.kill("SIGKILL");
  }, 15_000);
  force.unref();
  Promise.all(alive.map((c) => new Promise((done) => c.once("exit", done)))).then(() => process.exit(code));
}

await ensureConsoleBuilt((line) => process.stdout.write(`${line}\n`));

const warmUp = spawnSync(process.execPath, [join(root, "scripts", "warm-compile-cache.ts")], {
  cwd: root,
  env,
  encoding: "utf8",
  timeout: 30_000,
});
if (warmUp.status !== 0) {
  // Only memory is at stake: a service that finds its sources uncached strips them itself.
  const reason = warmUp.error?.message ?? warmUp.stderr.trim().split("\n").slice(-3).join(" | ");
  process.stderr.write(`compile cache warm-up failed, services will strip their own types: ${reason}\n`);
}

for (const service of services) {
  const child = spawn(process.execPath, [...nodeFlags, resolve(root, "services", service.name, "src", "main.ts")], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.set(service.name, child);
  const tag = prefix(service.name, service.color);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => process.stdout.write(`${tag} ${line}\n`));
  }
  child.on("exit", (code, signal) => {
    if (stopping) return;
    process.stderr.write(`${tag} exited unexpectedly (${signal ?? `code ${code}`}); stopping the mesh\n`);
    stopAll(1);
  });
}
process.once("SIGINT", () => stopAll(0));
process.once("SIGTERM", () => stopAll(0));

const READY_WITHIN_MS = 60_000;
const REPORT_EVERY_MS = 15_000;

const started = Date.now();
let reported = started;
while (!stopping) {
  const states = await Promise.all(services.map((s) => probeReadiness(url(s.port))));
  const waiting = services.flatMap((s, i) => (states[i] === "ready" ? [] : [`${s.name} (${states[i]})`]));
  if (waiting.length === 0) break;
  const elapsed = Date.now() - started;
  if (elapsed > READY_WITHIN_MS) {
    process.stderr.write(`the mesh did not become ready within ${READY_WITHIN_MS / 1000} s: ${waiting.join(", ")}\n`);
    stopAll(1);
    break;
  }
  if (Date.now() - reported >= REPORT_EVERY_MS) {
    reported = Date.now();
    process.stdout.write(`still waiting after ${Math.round(elapsed / 1000)} s for ${waiting.join(", ")}\n`);
  }
  await sleep(100);
}
if (!stopping) {
  const key = process.env.SANDBOX_API_KEY || SANDBOX_API_KEY;
  process.stdout.write(
    `\nMyPay mesh ready in ${Date.now() - started} ms\n` +
      `  gateway      ${url(ports.GATEWAY_PORT)}\n` +
      `  sandbox key  ${key}\n` +
      `  console      ${url(ports.GATEWAY_PORT)}/console/ (admin key ${process.env.ADMIN_API_KEY ? "from ADMIN_API_KEY" : SANDBOX_ADMIN_API_KEY})\n` +
      `  try          curl -s -H "X-API-KEY: ${key}" ${url(ports.GATEWAY_PORT)}/api/v1/balance\n\n`,
  );
}
