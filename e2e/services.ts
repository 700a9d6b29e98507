import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { freePort, hasExited, type StorageSettings, storageEnv, waitUntilReady } from "@mypay/kit";

const root = resolve(import.meta.dirname, "..");
export const SERVICE_NAMES = ["ledger", "notifier", "payouts", "gateway"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * The four services as separately controlled processes (unlike the launcher, which stops the whole mesh
 * when one dies), so tests can kill and restart any one of them.
 */
export class ServiceSet {
  readonly ports: Record<ServiceName, number>;
  readonly output: string[] = [];
  /** Services that exited without being killed or stopped by the test (a crash), e.g. "ledger exited 1". */
  readonly unexpectedExits: string[] = [];
  readonly #env: NodeJS.ProcessEnv;
  readonly #stopping = new WeakSet<ChildProcess>();
  readonly #running = new Map<ServiceName, ChildProcess>();

  private constructor(ports: Record<ServiceName, number>, env: NodeJS.ProcessEnv) {
    this.ports = ports;
    this.#env = env;
  }

  static async create(storage: StorageSettings, extraEnv: Record<string, string> = {}): Promise<ServiceSet> {
    const ports = {
      ledger: await freePort(),
      notifier: await freePort(),
      payouts: await freePort(),
      gateway: await freePort(),
    };
    const env: NodeJS.ProcessEnv = { ...process.env, ...storageEnv(storage), LOG_LEVEL: "warn", ...extraEnv };
    if (!storage.DATABASE_URL) {
      delete env.DATABASE_URL;
      delete env.MYSQL_URL;
    }
    for (const name of SERVICE_NAMES) {
      env[`${name.toUpperCase()}_PORT`] = String(ports[name]);
      env[`${name.toUpperCase()}_URL`] = `http://127.0.0.1:${ports[name]}`;
    }
    return new ServiceSet(ports, env);
  }

  url(name: ServiceName): string {
    return `http://127.0.0.1:${this.ports[name]}`;
  }

  /**
   * Starts a service and resolves once its /readyz answers 200. `env` overrides the set's environment
   * for this process only (e.g. to route one service through a fault-injecting proxy).
   */
  async start(name: ServiceName, env: Record<string, string> = {}): Promise<void> {
    const child = spawn(process.execPath, [resolve(root, "services", name, "src", "main.ts")], {
      cwd: root,
      env: { ...this.#env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#running.set(name, child);
    child.once("exit", (code, signal) => {
      if (!this.#stopping.has(child)) this.unexpectedExits.push(`${name} exited ${code ?? signal}`);
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => this.output.push(`[${name}] ${line}`));
    }
    await waitUntilReady(child, this.url(name), {
      name,
      intervalMs: 50,
      details: () => this.output.slice(-20).join("\n"),
    });
  }

  async startAll(): Promise<void> {
    await Promise.all(SERVICE_NAMES.map((name) => this.start(name)));
  }

  /** Kills a service without warning (no graceful shutdown) and waits until it is gone. */
  async kill(name: ServiceName): Promise<void> {
    const child = this.#running.get(name);
    if (!child || hasExited(child)) return;
    const gone = new Promise((r) => child.once("exit", r));
    this.#stopping.add(child);
    child.kill("SIGKILL");
    await gone;
  }

  /** Stops every service gracefully (SIGTERM) and waits for them. */
  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.#running.values()].map((child) => {
        if (hasExited(child)) return Promise.resolve();
        const gone = new Promise((r) => child.once("exit", r));
        this.#stopping.add(child);
        child.kill("SIGTERM");
        return gone;
      }),
    );
  }
}
