import { setTimeout as sleep } from "node:timers/promises";
import type { EntityManager, MikroORM } from "@mikro-orm/sql";
import { CompiledQuery, type Kysely } from "kysely";
import { createPool, type Pool, type PoolConnection, type PoolOptions } from "mysql2";

/** A value bound to a `?` placeholder. Dates are stored as UTC `datetime(3)` on a server, epoch ms on SQLite. */
export type SqlValue = string | number | bigint | boolean | Date | null;
export type Row = Record<string, unknown>;
/** One statement and its parameters. */
export type Statement = readonly [sql: string, params?: readonly SqlValue[]];
/** A statement's result: the rows of a query, or how many rows a write changed. */
export type StatementResult = Row[] | number;

/**
 * Plain SQL for hot paths, where building statements with the ORM's query builder and mapping its
 * results cost more CPU than the database spends running them (DESIGN §9). Statements are written
 * once, with `?` placeholders, in SQL both engines understand (or chosen by `kind`); entities and
 * migrations stay the ORM's.
 */
export interface Sql {
  /** The rows of one query. */
  query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** How many rows one write changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Several statements in order, in ONE round trip on MySQL/MariaDB (one after another on SQLite);
   * the first failure stops the rest and rejects.
   */
  many(statements: readonly Statement[]): Promise<StatementResult[]>;
}

/** A transaction's statements; `commitWith` sends its last statements and the COMMIT in one round trip. */
export interface SqlTransaction extends Sql {
  /** Runs `statements` (possibly none) and commits, in one round trip on a server. Nothing may follow it. */
  commitWith(statements: readonly Statement[]): Promise<StatementResult[]>;
  /**
   * Runs `guard`, a write, then `statements` and the COMMIT, but only when the guard matched exactly
   * `expectedRows` rows; otherwise rejects with `RowCountMismatch` before any of `statements` ran, and the
   * transaction rolls back once the error leaves the work. One round trip on MariaDB, whose server checks
   * the count; two elsewhere. Answers the results of `statements`. Nothing may follow it.
   */
  commitWhen(guard: Statement, expectedRows: number, statements: readonly Statement[]): Promise<StatementResult[]>;
  /** `commitWhen` with several guards, run in order, each of which must match its own count. */
  commitWhenAll(guards: readonly Guard[], statements: readonly Statement[]): Promise<StatementResult[]>;
}

/** A write that must match exactly `expectedRows` rows for its transaction to commit. */
export type Guard = readonly [guard: Statement, expectedRows: number];

/** A `commitWhen` guard matched another number of rows than expected: nothing was committed. */
export class RowCountMismatch extends Error {
  readonly matched: number;
  readonly expected: number;

  constructor(matched: number, expected: number) {
    super(`the guard matched ${matched} rows, not ${expected}`);
    this.name = "RowCountMismatch";
    this.matched = matched;
    this.expected = expected;
  }
}

/** `commitWhenAll` in steps: each guard alone, its count checked here, then the rest with the COMMIT. */
async function commitWhenInSteps(
  tx: SqlTransaction,
  guards: readonly Guard[],
  statements: readonly Statement[],
): Promise<StatementResult[]> {
  for (const [[sql, params], expectedRows] of guards) {
    const matched = await tx.run(sql, params);
    if (matched !== expectedRows) throw new RowCountMismatch(matched, expectedRows);
  }
  return tx.commitWith(statements);
}

/** What MariaDB's row-count check signals (SQLSTATE 45000, errno 1644), followed by the counts. */
const GUARD_SIGNAL = "guard matched ";

/**
 * A MariaDB block that stops the rest of its round trip, unless the statement before it matched
 * `expected` rows (the pools count matched rows, not changed ones, as `run` does).
 */
const guardCheck = (expected: number): Statement => [
  `begin not atomic
     declare matched bigint default row_count();
     declare message varchar(64) default concat('${GUARD_SIGNAL}', matched, ' not ', ?);
     if matched <> ? then signal sqlstate '45000' set message_text = message; end if;
   end`,
  [expected, expected],
];

/** The mismatch a MariaDB guard check signalled, or undefined for any other error. */
function guardMismatch(err: unknown): RowCountMismatch | undefined {
  const { errno, message } = err as { errno?: number; message?: string };
  if (errno !== 1644 || !message?.startsWith(GUARD_SIGNAL)) return undefined;
  const [matched, expected] = message.slice(GUARD_SIGNAL.length).split(" not ");
  return new RowCountMismatch(Number(matched), Number(expected));
}

export interface SqlDatabase extends Sql {
  /**
   * Runs `work` in one READ COMMITTED transaction (SQLite: one writer at a time), committing when it
   * resolves and rolling back when it throws. A transaction that lost a lock conflict (deadlock,
   * lock-wait timeout, busy SQLite) is run again from the start after a short random pause, up to
   * `attempts` times: `work` must be safe to run again. Hot paths use locking reads or conditional
   * writes for correctness, never a snapshot.
   */
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>, options?: { attempts?: number }): Promise<T>;
  close(): Promise<void>;
}

/** Whether a driver error means the transaction was rolled back by a lock conflict and may simply run again. */
export function isLockConflictError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { errno } = err as { errno?: number };
  return errno === 1213 || errno === 1205 || /SQLITE_BUSY|database is locked/i.test(err.message);
}

/** A `datetime(3)` column as read by `Sql`: a UTC string on a server, epoch milliseconds on SQLite. */
export function sqlDate(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === "number" || typeof value === "bigint") return new Date(Number(value));
  const text = String(value);
  // "YYYY-MM-DD HH:MM:SS.mmm" in UTC (the server pool's time zone).
  return new Date(text.length >= 19 && text[10] === " " ? `${text.slice(0, 10)}T${text.slice(11)}Z` : text);
}

/** `?, ?, ?` for `count` values. */
export function placeholders(count: number): string {
  return count === 1 ? "?" : `?${", ?".repeat(count - 1)}`;
}

/** `(?, ?), (?, ?)` for `rows` tuples of `width` values (a multi-row VALUES list). */
export function tuples(rows: number, width: number): string {
  const one = `(${placeholders(width)})`;
  return rows === 1 ? one : `${one}${`, ${one}`.repeat(rows - 1)}`;
}

interface ResultHeader {
  affectedRows: number;
}

const isHeader = (value: unknown): value is ResultHeader =>
  typeof value === "object" && value !== null && !Array.isArray(value) && "affectedRows" in value;

function normalise(result: unknown): StatementResult {
  return isHeader(result) ? result.affectedRows : (result as Row[]);
}

function send(conn: PoolConnection | Pool, statements: readonly Statement[]): Promise<StatementResult[]> {
  const sql = statements.map(([text]) => text).join(";\n");
  const params = statements.flatMap(([, values]) => values ?? []);
  return new Promise((resolve, reject) => {
    conn.query({ sql, values: params }, (err, result) => {
      if (err) return reject(err);
      // One statement answers its own result; several answer an array of results.
      resolve(statements.length === 1 ? [normalise(result)] : (result as unknown[]).map(normalise));
    });
  });
}

/**
 * Characters escaped inside a single-quoted literal: the quote and the backslash, which would end or
 * change it, and NUL, CR, LF and Ctrl-Z, which some tools mangle. Double quotes need no escape there,
 * which keeps JSON bodies (full of them) a plain copy.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these control characters are what must be escaped
const SPECIAL = /[\0\n\r\x1a'\\]/;
const SPECIALS = new RegExp(SPECIAL.source, "g");
const ESCAPED: Record<string, string> = {
  "\0": "\\0",
  "\n": "\\n",
  "\r": "\\r",
  "\x1a": "\\Z",
  "'": "\\'",
  "\\": "\\\\",
};

/** One value as a MySQL literal (sessions run without NO_BACKSLASH_ESCAPES; dates in UTC). */
export function sqlLiteral(value: SqlValue | undefined): string {
  if (value === null || value === undefined) return "NULL";
  switch (typeof value) {
    case "string":
      return SPECIAL.test(value) ? `'${value.replace(SPECIALS, (c) => ESCAPED[c]!)}'` : `'${value}'`;
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`${value} cannot be stored`);
      return String(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "TRUE" : "FALSE";
  }
  if (value instanceof Date) {
    const iso = value.toISOString();
    return `'${iso.slice(0, 10)} ${iso.slice(11, 23)}'`;
  }
  throw new TypeError(`unsupported SQL value ${String(value)}`);
}

/**
 * `sql` with each `?` replaced by the next value as a literal. Every `?` is a placeholder: the
 * statements of this codebase never hold a question mark in a literal, an identifier or a comment.
 */
export function formatSql(sql: string, values: readonly (SqlValue | undefined)[]): string {
  if (values.length === 0) return sql;
  const parts = sql.split("?");
  if (parts.length - 1 !== values.length) {
    throw new Error(`a statement with ${parts.length - 1} placeholders got ${values.length} values`);
  }
  let out = parts[0]!;
  for (let i = 0; i < values.length; i++) out += sqlLiteral(values[i]) + parts[i + 1];
  return out;
}

/**
 * A server pool of its own (multi-statements, UTC, READ COMMITTED sessions), beside the ORM's. On
 * `mariadb`, `commitWhen` has the server check its guard's count (MySQL has no blocks outside routines).
 */
export function mysqlSql(options: PoolOptions, server: "mysql" | "mariadb" = "mysql"): SqlDatabase {
  const pool = createPool({
    ...options,
    multipleStatements: true,
    timezone: "Z",
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    // Our own formatting: the driver's general one scans for quotes and comments around each placeholder.
    queryFormat: (sql: string, values: SqlValue[] | undefined) => formatSql(sql, values ?? []),
  });
  pool.on("connection", (conn) => {
    // Backslash escapes are how `sqlLiteral` quotes; READ COMMITTED is what hot paths are written for.
    conn.query(
      "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', ''); SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
    );
  });
  const getConnection = () =>
    new Promise<PoolConnection>((resolve, reject) =>
      pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))),
    );

  async function once<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const conn = await getConnection();
    let state = "idle" as "idle" | "open" | "committed";
    // The BEGIN rides with the transaction's first statements, saving a round trip.
    const sendInTx = async (statements: readonly Statement[], commit: boolean) => {
      if (state === "committed") throw new Error("statement after commit");
      const prefix: Statement[] = state === "idle" ? [["START TRANSACTION"]] : [];
      const all = [...prefix, ...statements, ...(commit ? [["COMMIT"] as Statement] : [])];
      state = "open";
      const results = await send(conn, all);
      if (commit) state = "committed";
      return results.slice(prefix.length, prefix.length + statements.length);
    };
    const tx: SqlTransaction = {
      query: async <R>(sql: string, params?: readonly SqlValue[]) => (await sendInTx([[sql, params]], false))[0] as R[],
      run: async (sql, params) => (await sendInTx([[sql, params]], false))[0] as number,
      many: (statements) => sendInTx(statements, false),
      commitWith: (statements) => sendInTx(statements, true),
      commitWhen: (guard, expectedRows, statements) => tx.commitWhenAll([[guard, expectedRows]], statements),
      async commitWhenAll(guards, statements) {
        if (server !== "mariadb") return commitWhenInSteps(tx, guards, statements);
        const checked = guards.flatMap(([guard, expectedRows]) => [guard, guardCheck(expectedRows)]);
        try {
          return (await sendInTx([...checked, ...statements], true)).slice(checked.length);
        } catch (err) {
          throw guardMismatch(err) ?? err;
        }
      },
    };
    try {
      const result = await work(tx);
      if (state === "open") await sendInTx([], true);
      conn.release();
      return result;
    } catch (err) {
      if (state === "open") {
        try {
          await send(conn, [["ROLLBACK"]]);
        } catch {
          conn.destroy();
          throw err;
        }
      }
      // A failed COMMIT leaves the connection in an unknown state: never hand it out again.
      if (state === "committed") conn.destroy();
      else conn.release();
      throw err;
    }
  }

  return {
    query: async <T>(sql: string, params?: readonly SqlValue[]) => (await send(pool, [[sql, params]]))[0] as T[],
    run: async (sql, params) => (await send(pool, [[sql, params]]))[0] as number,
    many: (statements) => send(pool, statements),
    async transaction(work, { attempts = 4 } = {}) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(work);
        } catch (err) {
          if (attempt >= attempts || !isLockConflictError(err)) throw err;
          await sleep(Math.random() * 5 * 2 ** attempt);
        }
      }
    },
    close: () => new Promise<void>((resolve) => pool.end(() => resolve())),
  };
}

/**
 * SQLite through the ORM's own connection (one writer; a second connection would block on its lock),
 * with the values bound as parameters rather than written into the statement.
 */
export function sqliteSql(orm: MikroORM): SqlDatabase {
  const bind = (params: readonly SqlValue[] = []) =>
    params.map((v) => (v instanceof Date ? v.getTime() : typeof v === "boolean" ? Number(v) : v));
  // What the driver runs with `all` (rows) rather than `run` (changed-row count).
  const reads = (sql: string) => /^\s*(select|pragma|explain|with)/i.test(sql) || /\breturning\b/i.test(sql);
  const runner = (em: EntityManager): Sql => {
    // In a transaction, its connection; otherwise the pool, which waits for a running transaction.
    const executor = () =>
      (em.getTransactionContext() as Kysely<unknown> | undefined) ?? em.getConnection().getClient();
    const one = async (sql: string, params?: readonly SqlValue[]): Promise<StatementResult> => {
      const result = await executor().executeQuery(CompiledQuery.raw(sql, bind(params)));
      return reads(sql) ? (result.rows as Row[]) : Number(result.numAffectedRows ?? 0);
    };
    return {
      query: async <T>(sql: string, params?: readonly SqlValue[]) => (await one(sql, params)) as T[],
      run: async (sql, params) => (await one(sql, params)) as number,
      async many(statements) {
        const results: StatementResult[] = [];
        for (const [sql, params] of statements) results.push(await one(sql, params));
        return results;
      },
    };
  };
  const outside = runner(orm.em.fork() as EntityManager);
  return {
    ...outside,
    async transaction(work, { attempts = 12 } = {}) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await orm.em.fork().transactional((em) => work(untilCommitted(runner(em as EntityManager))));
        } catch (err) {
          if (attempt >= attempts || !isLockConflictError(err)) throw err;
          await sleep(Math.random() * 10 * attempt);
        }
      }
    },
    close: async () => {},
  };
}

/** A transaction over `sql` whose `commitWith` only marks the end: the ORM commits when the work resolves. */
function untilCommitted(sql: Sql): SqlTransaction {
  let committed = false;
  const open = <T>(run: () => Promise<T>): Promise<T> =>
    committed ? Promise.reject(new Error("statement after commit")) : run();
  const tx: SqlTransaction = {
    query: (text, params) => open(() => sql.query(text, params)),
    run: (text, params) => open(() => sql.run(text, params)),
    many: (statements) => open(() => sql.many(statements)),
    commitWith: (statements) =>
      open(() => {
        committed = true;
        return sql.many(statements);
      }),
    commitWhen: (guard, expectedRows, statements) => tx.commitWhenAll([[guard, expectedRows]], statements),
    commitWhenAll: (guards, statements) => commitWhenInSteps(tx, guards, statements),
  };
  return tx;
}
