import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, waitUntilReady } from "@mypay/kit";
import { afterEach, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  dirs.push(dir);
  return dir;
}

// Printed by the service process as it exits: whether it ever loaded Node's type stripper.
const REPORT = `process.on("exit", () => console.log("stripper loaded: " + process.moduleLoadList.some((m) => m.includes("amaro"))))`;

/** Starts a ledger (embedded storage) on `cache`, waits until it is ready, stops it; what it reported. */
async function ledgerLoadsStripper(cache: string): Promise<boolean> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", `data:text/javascript,${encodeURIComponent(REPORT)}`, "services/ledger/src/main.ts"],
    {
      cwd: root,
      env: {
        ...process.env,
        NODE_COMPILE_CACHE: cache,
        DATA_DIR: tempDir("ledger-data"),
        DATABASE_URL: "",
        MYSQL_URL: "",
        LEDGER_PORT: String(port),
        LOG_LEVEL: "error",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise((done) => child.once("exit", done));
  await waitUntilReady(child, `http://127.0.0.1:${port}`, {
    name: "ledger",
    withinMs: 30_000,
    details: () => output,
  }).catch((err: unknown) => {
    child.kill("SIGKILL");
    throw err;
  });
  child.kill("SIGTERM");
  await exited;
  const report = /stripper loaded: (true|false)/.exec(output);
  if (!report) throw new Error(`no report from the ledger:\n${output}`);
  return report[1] === "true";
}

describe("compile cache warm-up", () => {
  it("lets a service start without loading the type stripper, which it loads on an empty cache", async () => {
    const cold = tempDir("compile-cache-cold");
    expect(await ledgerLoadsStripper(cold)).toBe(true);

    const warm = tempDir("compile-cache-warm");
    const warmUp = spawnSync(process.execPath, ["scripts/warm-compile-cache.ts"], {
      cwd: root,
      env: { ...process.env, NODE_COMPILE_CACHE: warm },
      encoding: "utf8",
    });
    expect(warmUp.status, warmUp.stderr).toBe(0);
    expect(await ledgerLoadsStripper(warm)).toBe(false);
  });
});
