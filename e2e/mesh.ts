import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { freePort, hasExited, type StorageSettings, storageEnv } from "@mypay/kit";

const root = resolve(import.meta.dirname, "..");

export interface RunningMesh {
  /** The launcher's process id (the services are its children). */
  pid: number;
  gatewayUrl: string;
  ports: Record<string, number>;
  /** Everything the launcher printed, for diagnostics. */
  output: string[];
  stop(): Promise<number | null>;
  /** Resolves with the launcher's exit code when it exits, for whatever reason. */
  exited: Promise<number | null>;
}

/**
 * Starts the mesh through the same launcher as `npm start`, on free loopback ports and the given
 * storage, and resolves once it reports ready.
 */
export async function startMesh(storage: StorageSettings, extraEnv: Record<string, string> = {}): Promise<RunningMesh> {
  const ports = {
    LEDGER_PORT: await freePort(),
    PAYOUTS_PORT: await freePort(),
    NOTIFIER_PORT: await freePort(),
    GATEWAY_PORT: await freePort(),
  };
  const env: NodeJS.ProcessEnv = { ...process.env, ...storageEnv(storage), LOG_LEVEL: "warn", ...extraEnv };
  for (const [k, v] of Object.entries(ports)) env[k] = String(v);
  if (!storage.DATABASE_URL) {
    delete env.DATABASE_URL;
    delete env.MYSQL_URL;
  }
  const child: ChildProcess = spawn(process.execPath, [resolve(root, "scripts", "start.ts")], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const ready = new Promise<void>((done, fail) => {
    // Longer than the launcher's own 60 s limit, so that its report of who is not ready comes first;
    // shorter than the 90 s the suites give their start-up hook.
    const timer = setTimeout(() => {
      child.kill("SIGINT");
      fail(new Error(`mesh not ready in 85 s:\n${output.join("\n")}`));
    }, 85_000);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => {
        output.push(line);
        if (line.startsWith("MyPay mesh ready")) {
          clearTimeout(timer);
          done();
        }
      });
    }
    exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`mesh exited with ${code} before ready:\n${output.join("\n")}`));
    });
  });
  await ready;
  return {
    pid: child.pid!,
    gatewayUrl: `http://127.0.0.1:${ports.GATEWAY_PORT}`,
    ports,
    output,
    async stop() {
      if (!hasExited(child)) child.kill("SIGINT");
      return exited;
    },
    exited,
  };
}

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback that answers 200 and keeps what it got. */
export async function startReceiver(): Promise<{ url: string; received: ReceivedWebhook[]; close(): Promise<void> }> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
