import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StorageSettings } from "./db.ts";

/**
 * Storage for one test run: fresh databases on the MySQL/MariaDB server named by MYSQL_URL
 * (or DATABASE_URL), else a fresh folder of SQLite files. Nothing is shared between runs.
 */
export function testStorage(): StorageSettings {
  const url = process.env.DATABASE_URL || process.env.MYSQL_URL || undefined;
  return {
    DATABASE_URL: url,
    DATABASE_PREFIX: `t${Date.now().toString(36)}${randomBytes(3).toString("hex")}`,
    DATA_DIR: mkdtempSync(join(tmpdir(), "mypay-test-")),
  };
}

/** Environment variables that select `storage` in a child process. */
export function storageEnv(storage: StorageSettings): Record<string, string> {
  return {
    ...(storage.DATABASE_URL ? { DATABASE_URL: storage.DATABASE_URL } : {}),
    DATABASE_PREFIX: storage.DATABASE_PREFIX,
    DATA_DIR: storage.DATA_DIR,
  };
}
