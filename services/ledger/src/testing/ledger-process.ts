import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { type StorageSettings, storageEnv } from "@mypay/kit";

const entry = resolve(import.meta.dirname, "..", "main.ts");

export interface LedgerProcess {
  child: ChildProcess;
  exited: Promise<unknown>;
  /** Every line the process has printed so far. */
  output: string[];
}

/** Starts the real ledger process on `port` and `settings`, and resolves once it listens. */
export async function startLedger(
  port: number,
  settings: StorageSettings,
  extraEnv: Record<string, string> = {},
): Promise<LedgerProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...storageEnv(settings),
    LEDGER_PORT: String(port),
    LOG_LEVEL: "info",
    ...extraEnv,
  };
  if (!settings.DATABASE_URL) {
    delete env.DATABASE_URL;
    delete env.MYSQL_URL;
  }
  const child = spawn(process.execPath, [entry], { env, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((done) => child.once("exit", done));
  const output: string[] = [];
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`ledger not listening in 30 s:\n${output.join("\n")}`)), 30_000);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => {
        output.push(line);
        if (line.includes('"msg":"listening"')) {
          clearTimeout(timer);
          done();
        }
      });
    }
    void exited.then(() => {
      clearTimeout(timer);
      fail(new Error(`ledger exited before listening:\n${output.join("\n")}`));
    });
  });
  return { child, exited, output };
}
