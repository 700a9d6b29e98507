import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
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

/** A loopback port the OS says is free right now (for starting real processes in tests). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}
