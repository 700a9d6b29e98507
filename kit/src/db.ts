import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DeadlockException,
  type EntitySchema,
  IsolationLevel,
  LockWaitTimeoutException,
  type MigrationObject,
  UniqueConstraintViolationException,
} from "@mikro-orm/core";
import { MariaDbDriver } from "@mikro-orm/mariadb";
import { Migrator } from "@mikro-orm/migrations";
import { MySqlDriver } from "@mikro-orm/mysql";
import { type EntityManager, MikroORM, NodeSqliteDialect, type Options, SqliteDriver } from "@mikro-orm/sql";
import { createConnection } from "mysql2/promise";
import type { Logger } from "./logger.ts";
import { isLockConflictError, mysqlSql, type SqlDatabase, sqliteSql } from "./sql.ts";

/** Which SQL engine a service runs on. `mysql` and `mariadb` share one set of migrations. */
export type DatabaseKind = "mysql" | "mariadb" | "sqlite";

export interface StorageSettings {
  DATABASE_URL?: string | undefined;
  MYSQL_URL?: string | undefined;
  DATABASE_PREFIX: string;
  DATA_DIR: string;
}

export interface DatabaseOptions {
  /** Service name: the database is `<prefix>_<service>` on a server, `<DATA_DIR>/<service>.sqlite` embedded. */
  service: string;
  settings: StorageSettings;
  // biome-ignore lint/suspicious/noExplicitAny: entity schemas of any shape
  entities: EntitySchema<any, any>[];
  migrations: { mysql: MigrationObject[]; sqlite: MigrationObject[] };
  logger: Logger;
  /** Connection pool size on a server. */
  poolSize?: number;
}

export interface Database {
  orm: MikroORM;
  kind: DatabaseKind;
  /** Plain SQL for hot paths (see `Sql`); cold paths use the ORM. */
  sql: SqlDatabase;
  /** A fresh entity manager for one unit of work. */
  em(): EntityManager;
  /** Answers whether the database responds (used by readiness). */
  ping(): Promise<boolean>;
  /**
   * Whether `err` is a unique-key violation, on any engine. Query builders and raw queries throw the
   * driver's own error (mysql2, node:sqlite), not MikroORM's UniqueConstraintViolationException.
   */
  isUniqueViolation(err: unknown): boolean;
  /**
   * Whether `err` aborted a transaction without committing any of it: a deadlock victim or a lock-wait
   * timeout (MySQL/MariaDB), or a busy SQLite database. Running the transaction again is safe.
   */
  isLockConflict(err: unknown): boolean;
  /**
   * Runs `work` in one transaction, running it again after a short random pause when it lost a lock
   * conflict (up to 4 attempts on a server, 12 on SQLite). `work` must be safe to run again.
   * `readCommitted` applies on MySQL/MariaDB only (SQLite has one writer).
   */
  transaction<T>(work: (em: EntityManager) => Promise<T>, options?: { readCommitted?: boolean }): Promise<T>;
  close(): Promise<void>;
}

/**
 * The ORM writes values into SQLite statements as literals, and SQLite reads a statement only up to a NUL:
 * a string holding one (any API text may) is written as a concatenation with `char(0)` instead, which
 * stores and matches the exact string.
 */
function writeNulAsChar(orm: MikroORM): void {
  const platform = orm.em.getPlatform();
  const literal = platform.escape.bind(platform);
  platform.escape = (value: unknown) =>
    typeof value === "string" && value.includes("\0")
      ? value
          .split("\0")
          .map((part) => literal(part))
          .join(" || char(0) || ")
      : literal(value);
}

/** The server URL in use, preferring DATABASE_URL over MYSQL_URL; undefined means embedded SQLite. */
export function serverUrl(settings: StorageSettings): string | undefined {
  return settings.DATABASE_URL ?? settings.MYSQL_URL;
}

/** Tells MariaDB from MySQL: by URL scheme when it says, else by asking the server. */
async function detectServer(url: URL): Promise<"mysql" | "mariadb"> {
  if (url.protocol === "mariadb:") return "mariadb";
  const probe = new URL(url);
  probe.protocol = "mysql:";
  probe.pathname = "/";
  const conn = await createConnection(probe.toString());
  try {
    const [rows] = await conn.query("SELECT VERSION() AS v");
    return /mariadb/i.test(String((rows as { v: string }[])[0]?.v)) ? "mariadb" : "mysql";
  } finally {
    await conn.end();
  }
}

/**
 * Size of each server connection's prepared-statement cache. Nothing here prepares statements (the
 * drivers send text queries), yet mysql2 gives every connection a cache of 16,000 slots by default, in
 * four arrays made up front: 0.5 MB of heap per connection, 9 MB for a pool of 16 (measured), which the
 * garbage collector marks on every full collection. 1 is the smallest mysql2 accepts.
 */
const UNUSED_STATEMENT_CACHE = 1;

/**
 * Opens the service's own database (creating it if missing) and applies pending migrations.
 * A server URL selects MySQL or MariaDB; no URL selects an embedded SQLite file.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const { service, settings, logger } = options;
  const url = serverUrl(settings);
  const common = {
    entities: options.entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    debug: false,
    logger: (message: string) => logger.debug({ orm: message }, "orm"),
    ensureDatabase: true,
  } satisfies Partial<Options>;
  let orm: MikroORM;
  let kind: DatabaseKind;
  let sql: SqlDatabase;
  if (url) {
    const parsed = new URL(url);
    kind = await detectServer(parsed);
    orm = await MikroORM.init({
      ...common,
      driver: kind === "mariadb" ? MariaDbDriver : MySqlDriver,
      host: parsed.hostname,
      port: Number(parsed.port || 3306),
      user: decodeURIComponent(parsed.username || "root"),
      password: decodeURIComponent(parsed.password),
      dbName: `${settings.DATABASE_PREFIX}_${service}`,
      pool: { max: options.poolSize ?? 16 },
      driverOptions: { maxPreparedStatements: UNUSED_STATEMENT_CACHE },
      migrations: { migrationsList: options.migrations.mysql, snapshot: false, transactional: true },
    } as Options);
    sql = mysqlSql(
      {
        host: parsed.hostname,
        port: Number(parsed.port || 3306),
        user: decodeURIComponent(parsed.username || "root"),
        password: decodeURIComponent(parsed.password),
        database: `${settings.DATABASE_PREFIX}_${service}`,
        connectionLimit: options.poolSize ?? 16,
        maxPreparedStatements: UNUSED_STATEMENT_CACHE,
      },
      kind,
    );
  } else {
    kind = "sqlite";
    mkdirSync(settings.DATA_DIR, { recursive: true });
    const file = join(settings.DATA_DIR, `${service}.sqlite`);
    orm = await MikroORM.init({
      ...common,
      driver: SqliteDriver,
      dbName: file,
      driverOptions: new NodeSqliteDialect(file),
      migrations: { migrationsList: options.migrations.sqlite, snapshot: false, transactional: true },
    } as Options);
    // WAL lets readers run beside the writer; the busy timeout rides out a second process's lock.
    await orm.em.getConnection().execute("PRAGMA journal_mode = WAL");
    await orm.em.getConnection().execute("PRAGMA busy_timeout = 5000");
    await orm.em.getConnection().execute("PRAGMA synchronous = FULL");
    writeNulAsChar(orm);
    sql = sqliteSql(orm);
  }
  const applied = await orm.migrator.up();
  logger.info({ kind, migrations: applied.map((m) => m.name) }, "database ready");
  const isLockConflict = (err: unknown): boolean => {
    if (err instanceof DeadlockException || err instanceof LockWaitTimeoutException) return true;
    if (!(err instanceof Error)) return false;
    const converted = orm.driver.convertException(err);
    return (
      converted instanceof DeadlockException ||
      converted instanceof LockWaitTimeoutException ||
      isLockConflictError(err)
    );
  };

  return {
    orm,
    kind,
    sql,
    em: () => orm.em.fork() as EntityManager,
    async ping() {
      try {
        await orm.em.getConnection().execute("SELECT 1");
        return true;
      } catch {
        return false;
      }
    },
    isUniqueViolation(err) {
      if (err instanceof UniqueConstraintViolationException) return true;
      return err instanceof Error && orm.driver.convertException(err) instanceof UniqueConstraintViolationException;
    },
    isLockConflict,
    async transaction(work, options = {}) {
      const isolation =
        options.readCommitted && kind !== "sqlite" ? { isolationLevel: IsolationLevel.READ_COMMITTED } : {};
      const attempts = kind === "sqlite" ? 12 : 4;
      for (let attempt = 1; ; attempt++) {
        try {
          return await orm.em.fork().transactional((em) => work(em as EntityManager), isolation);
        } catch (err) {
          if (attempt >= attempts || !isLockConflict(err)) throw err;
          await sleep(Math.random() * 10 * attempt);
        }
      }
    },
    async close() {
      await sql.close();
      await orm.close();
    },
  };
}
