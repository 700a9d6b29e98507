/**
 * Generates the next migration of one service from its entities, for both engines:
 *   node scripts/create-migration.ts <service>
 * SQLite runs on a temporary file; MySQL/MariaDB needs MYSQL_URL (a scratch database is created
 * and dropped). Each engine's existing migrations are applied first, so only the difference is written.
 * Afterwards, add the new classes to the service's `store/migrations/index.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger, openDatabase } from "@mypay/kit";

const service = process.argv[2];
if (!service) throw new Error("usage: node scripts/create-migration.ts <service>");
const root = resolve(import.meta.dirname, "..", "services", service, "src", "store");
const { entities } = await import(join(root, "entities.ts"));
const { migrations } = await import(join(root, "migrations", "index.ts"));
const logger = createLogger("migrations", "warn");
const scratch = mkdtempSync(join(tmpdir(), "mypay-migrations-"));
const prefix = `scratch${process.pid}`;

const targets: Array<{ kind: "sqlite" | "mysql"; url?: string }> = [{ kind: "sqlite" }];
if (process.env.MYSQL_URL) targets.push({ kind: "mysql", url: process.env.MYSQL_URL });
else console.warn("MYSQL_URL is not set: only the SQLite migration is generated");

for (const target of targets) {
  const db = await openDatabase({
    service,
    settings: { DATABASE_URL: target.url, DATABASE_PREFIX: prefix, DATA_DIR: scratch },
    entities,
    migrations,
    logger,
  });
  const result = await db.orm.migrator.create(join(root, "migrations", target.kind));
  console.log(`${target.kind}: ${result.fileName || "no changes"}`);
  if (target.url) await db.orm.schema.dropDatabase();
  await db.close();
}
rmSync(scratch, { recursive: true, force: true });
