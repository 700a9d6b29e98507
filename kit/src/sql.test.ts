import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "./db.ts";
import { createLogger } from "./logger.ts";
import {
  formatSql,
  mysqlSql,
  placeholders,
  RowCountMismatch,
  type SqlDatabase,
  type Statement,
  sqlDate,
  tuples,
} from "./sql.ts";
import { dropTestDatabases, testStorage } from "./testing.ts";

const storage = testStorage();
if (!storage.DATABASE_URL) {
  console.warn("[sql] SKIPPED the two-round-trip guard check on a server: no MYSQL_URL, embedded SQLite only");
}
let db: Database;

beforeAll(async () => {
  db = await openDatabase({
    service: "sqltest",
    settings: storage,
    entities: [],
    migrations: { mysql: [], sqlite: [] },
    logger: createLogger("sqltest", "silent"),
    poolSize: 4,
  });
  await db.sql.run(
    "create table items (id varchar(20) not null primary key, amount bigint not null, at datetime(3) not null)",
  );
});

afterAll(async () => {
  await db.close();
  await dropTestDatabases(storage);
});

const amounts = async (...ids: string[]) => {
  const rows = await db.sql.query<{ id: string; amount: unknown }>(
    `select id, amount from items where id in (${placeholders(ids.length)})`,
    ids,
  );
  return ids.map((id) => Number(rows.find((r) => r.id === id)?.amount));
};

/** `commitWhen`'s contract through `sql`, on rows `<p>1` to `<p>4`. */
async function checkGuardedCommits(sql: SqlDatabase, p: string): Promise<void> {
  const at = new Date();
  await sql.run(`insert into items (id, amount, at) values ${tuples(2, 3)}`, [`${p}1`, 1, at, `${p}2`, 1, at]);
  const guard = (amount: number): Statement => [
    "update items set amount = amount + 1 where id in (?, ?, ?) and amount = ?",
    [`${p}1`, `${p}2`, `${p}3`, amount],
  ];
  const insert: Statement = ["insert into items (id, amount, at) values (?, ?, ?)", [`${p}4`, 0, at]];
  expect(await sql.transaction((tx) => tx.commitWhen(guard(1), 2, [insert]))).toEqual([1]);
  expect(await amounts(`${p}1`, `${p}2`, `${p}4`)).toEqual([2, 2, 0]);

  // The second row now holds 5: the guard (amount 2) matches the first only, and nothing after it runs.
  await sql.run("update items set amount = 5 where id = ?", [`${p}2`]);
  const refused = sql.transaction((tx) => tx.commitWhen(guard(2), 2, [["delete from items where id = ?", [`${p}4`]]]));
  await expect(refused).rejects.toThrow(RowCountMismatch);
  await expect(refused).rejects.toMatchObject({ matched: 1, expected: 2 });
  expect(await amounts(`${p}1`, `${p}2`, `${p}4`)).toEqual([2, 5, 0]);
  // The pool goes on working, and a refused guard leaves no lock behind.
  await sql.transaction((tx) => tx.commitWhen(["update items set amount = 0 where id = ?", [`${p}1`]], 1, []));
  expect(await amounts(`${p}1`)).toEqual([0]);

  // Several guards: the first matches, the second does not; the first one's write is rolled back too.
  const bump = (id: string, amount: number): Statement => [
    "update items set amount = amount + 1 where id = ? and amount = ?",
    [id, amount],
  ];
  const both = sql.transaction((tx) =>
    tx.commitWhenAll(
      [
        [bump(`${p}1`, 0), 1],
        [bump(`${p}2`, 4), 1],
      ],
      [insert],
    ),
  );
  await expect(both).rejects.toMatchObject({ matched: 0, expected: 1 });
  expect(await amounts(`${p}1`, `${p}2`)).toEqual([0, 5]);
  expect(
    await sql.transaction((tx) =>
      tx.commitWhenAll(
        [
          [bump(`${p}1`, 0), 1],
          [bump(`${p}2`, 5), 1],
        ],
        [["delete from items where id = ?", [`${p}4`]]],
      ),
    ),
  ).toEqual([1]);
  expect(await amounts(`${p}1`, `${p}2`, `${p}4`)).toEqual([1, 6, Number.NaN]);
  // A guard counts the rows it matched, changed or not.
  const unchanged: Statement = ["update items set amount = amount where id in (?, ?)", [`${p}1`, `${p}2`]];
  expect(await sql.transaction((tx) => tx.commitWhenAll([[unchanged, 2]], [insert]))).toEqual([1]);
}

const count = async () => Number((await db.sql.query<{ n: unknown }>("select count(*) as n from items"))[0]!.n);

describe(`plain SQL (${process.env.MYSQL_URL ? "MariaDB/MySQL" : "SQLite"})`, () => {
  it("round-trips bigints and UTC datetimes with milliseconds", async () => {
    const at = new Date("2026-03-04T05:06:07.089Z");
    // Past 2^53 on a server; the ORM's SQLite binding reads integers as JS numbers, so there 10^15 + 1.
    const big = db.kind === "sqlite" ? 10n ** 15n + 1n : 9_007_199_254_740_993n;
    expect(await db.sql.run("insert into items (id, amount, at) values (?, ?, ?)", ["a", big, at])).toBe(1);
    const [row] = await db.sql.query<{ amount: unknown; at: unknown }>("select amount, at from items where id = ?", [
      "a",
    ]);
    expect(BigInt(String(row!.amount))).toBe(big);
    expect(sqlDate(row!.at).toISOString()).toBe(at.toISOString());
  });

  it("stores every string exactly, quotes, backslashes, control characters and unicode included", async () => {
    const nasty = [
      `it's "quoted" \\ back\\slash`,
      "nul\0 bs\b tab\t nl\n cr\r sub\x1a",
      "' or 1=1; -- ",
      "ümlaut 日本 😀",
      "",
    ];
    for (const [i, text] of nasty.entries()) {
      await db.sql.run("insert into items (id, amount, at) values (?, ?, ?)", [`s${i}`, 0, new Date()]);
      await db.sql.run("update items set id = ? where id = ?", [`t${i}`, `s${i}`]);
      await db.sql.run("create table if not exists texts (id varchar(20) primary key, body text not null)");
      await db.sql.run("insert into texts (id, body) values (?, ?)", [`t${i}`, text]);
      const [row] = await db.sql.query<{ body: string }>("select body from texts where id = ?", [`t${i}`]);
      expect(row?.body).toBe(text);
    }
  });

  it("stores and finds a NUL-holding string through the ORM's own statements too", async () => {
    const conn = db.orm.em.getConnection();
    await conn.execute("create table if not exists texts (id varchar(20) primary key, body text not null)");
    await conn.execute("insert into texts (id, body) values (?, ?)", ["orm-nul", "a\0b"]);
    const found = await conn.execute<Array<{ body: string }>>("select body from texts where body = ?", ["a\0b"]);
    expect(found.map((r) => r.body)).toEqual(["a\0b"]);
    expect(await conn.execute("select body from texts where id = ?", ["orm-nul\0"])).toEqual([]);
  });

  it("refuses a statement whose placeholders and values do not match", () => {
    expect(() => formatSql("select ? + ?", [1])).toThrow(/2 placeholders got 1 values/);
    expect(formatSql("select 1", [])).toBe("select 1");
    expect(formatSql("select ?, ?, ?", [null, true, 12n])).toBe("select NULL, TRUE, 12");
  });

  it("answers several statements in order: rows for queries, changed-row counts for writes", async () => {
    const results = await db.sql.many([
      [`insert into items (id, amount, at) values ${tuples(2, 3)}`, ["b", 1, new Date(), "c", 2, new Date()]],
      [`update items set amount = amount + 1 where id in (${placeholders(3)})`, ["b", "c", "missing"]],
      ["select id, amount from items where id in (?, ?) order by id", ["b", "c"]],
    ]);
    expect(results[0]).toBe(2);
    expect(results[1]).toBe(2);
    expect((results[2] as Array<{ id: string; amount: unknown }>).map((r) => [r.id, Number(r.amount)])).toEqual([
      ["b", 2],
      ["c", 3],
    ]);
  });

  it("commits with the last statements, and refuses statements after the commit", async () => {
    const before = await count();
    await db.sql.transaction(async (tx) => {
      await tx.run("insert into items (id, amount, at) values (?, ?, ?)", ["d", 4, new Date()]);
      const [updated] = await tx.commitWith([["update items set amount = 40 where id = ?", ["d"]]]);
      expect(updated).toBe(1);
      await expect(tx.run("delete from items where id = ?", ["d"])).rejects.toThrow(/after commit/);
    });
    expect(await count()).toBe(before + 1);
    const [row] = await db.sql.query<{ amount: unknown }>("select amount from items where id = ?", ["d"]);
    expect(Number(row!.amount)).toBe(40);
  });

  it("rolls back everything when the work throws, or a statement of a batch fails", async () => {
    const before = await count();
    await expect(
      db.sql.transaction(async (tx) => {
        await tx.run("insert into items (id, amount, at) values (?, ?, ?)", ["e", 5, new Date()]);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    await expect(
      db.sql.transaction((tx) =>
        tx.commitWith([
          ["insert into items (id, amount, at) values (?, ?, ?)", ["f", 6, new Date()]],
          ["insert into items (id, amount, at) values (?, ?, ?)", ["a", 7, new Date()]],
        ]),
      ),
    ).rejects.toThrow();
    expect(await count()).toBe(before);
    // The pool still works after the failures.
    expect(await db.sql.run("update items set amount = amount where id = ?", ["a"])).toBeGreaterThanOrEqual(0);
  });

  it("commits after a guard that matched the rows expected, and commits nothing after one that did not", () =>
    checkGuardedCommits(db.sql, "g"));

  it.runIf(storage.DATABASE_URL)("does the same in two round trips on a server without blocks (MySQL)", async () => {
    const url = new URL(storage.DATABASE_URL!);
    const steps = mysqlSql(
      {
        host: url.hostname,
        port: Number(url.port || 3306),
        user: decodeURIComponent(url.username || "root"),
        password: decodeURIComponent(url.password),
        database: `${storage.DATABASE_PREFIX}_sqltest`,
        connectionLimit: 2,
      },
      "mysql",
    );
    try {
      await checkGuardedCommits(steps, "m");
    } finally {
      await steps.close();
    }
  });

  it("keeps concurrent transactions apart", async () => {
    await db.sql.run("insert into items (id, amount, at) values (?, ?, ?)", ["counter", 0, new Date()]);
    const lock = db.kind === "sqlite" ? "" : " for update";
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.sql.transaction(async (tx) => {
          const [row] = await tx.query<{ amount: unknown }>(`select amount from items where id = ?${lock}`, [
            "counter",
          ]);
          await tx.commitWith([["update items set amount = ? where id = ?", [Number(row!.amount) + 1, "counter"]]]);
        }),
      ),
    );
    const [row] = await db.sql.query<{ amount: unknown }>("select amount from items where id = ?", ["counter"]);
    expect(Number(row!.amount)).toBe(20);
  });
});
