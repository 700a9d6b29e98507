import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection } from "mysql2/promise";
import type { StorageSettings } from "./db.ts";

/**
 * Storage for one test run: fresh databases on the MySQL/MariaDB server named by MYSQL_URL
 * (or DATABASE_URL), else a fresh folder of SQLite files. Nothing is shared between runs.
 */
export function testStorage(): StorageSettings {
  const url = process.env.DATABASE_URL || process.env.MYSQL_URL || undefined;
  const prefix = `t${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  // The SQLite folder is created by whoever opens a database in it, so server runs leave no folder.
  return { DATABASE_URL: url, DATABASE_PREFIX: prefix, DATA_DIR: join(tmpdir(), `mypay-${prefix}`) };
}

/** Environment variables that select `storage` in a child process. */
export function storageEnv(storage: StorageSettings): Record<string, string> {
  return {
    ...(storage.DATABASE_URL ? { DATABASE_URL: storage.DATABASE_URL } : {}),
    DATABASE_PREFIX: storage.DATABASE_PREFIX,
    DATA_DIR: storage.DATA_DIR,
  };
}

/** Removes what a test run created: its databases on the server, or its folder of SQLite files. */
export async function dropTestDatabases(storage: StorageSettings): Promise<void> {
  if (!storage.DATABASE_URL) return rmSync(storage.DATA_DIR, { recursive: true, force: true });
  const url = new URL(storage.DATABASE_URL);
  url.protocol = "mysql:";
  url.pathname = "/";
  const conn = await createConnection(url.toString());
  try {
    const [rows] = await conn.query("SHOW DATABASES LIKE ?", [`${storage.DATABASE_PREFIX}\\_%`]);
    for (const row of rows as Record<string, string>[]) {
      const name = Object.values(row)[0]!;
      await conn.query(`DROP DATABASE \`${name.replaceAll("`", "")}\``);
    }
  } finally {
    await conn.end();
  }
}

/**
 * The lowest port the kernel hands to outgoing connections. Ports below it are taken only by
 * explicit listeners, so a port picked there cannot be grabbed by some test's client socket in the
 * moment between picking it and a child process binding it.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // not Linux: fall through to the IANA dynamic range's start
  }
  return 49152;
}

const LOWEST = 10_000;
const handedOut = new Set<number>();

function canBind(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((done) => {
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/**
 * A loopback port that is free right now and outside the range the kernel uses for outgoing
 * connections (for starting real processes in tests). Never the same port twice in one process.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  for (let attempt = 0; high > LOWEST && attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (high - LOWEST + 1));
    if (handedOut.has(port) || !(await canBind(port))) continue;
    handedOut.add(port);
    return port;
  }
  // Fallback for an unusual port range: whatever the OS picks.
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * Whether a child process has ended. A child killed by a signal keeps `exitCode` null for good (its
 * `signalCode` is set instead), so checking `exitCode` alone waits for an exit that already happened.
 */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}
