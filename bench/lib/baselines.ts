import { createServer } from "node:http";
import { freePort } from "@mypay/kit";
import { createConnection, createPool } from "mysql2/promise";
import { Pool } from "undici";
import { closedLoop, type LoadResult } from "./load.ts";

/**
 * The database's own limit: single-row `UPDATE … ` committed one statement at a time (autocommit) with
 * `concurrency` connections, on `rows` rows chosen at random (1 = one hot row).
 */
export async function rawCommitRate(
  serverUrl: string,
  database: string,
  rows: number,
  concurrency: number,
  ms: number,
): Promise<LoadResult> {
  const admin = await createConnection(serverUrl);
  await admin.query(`CREATE DATABASE \`${database}\``);
  await admin.query(`CREATE TABLE \`${database}\`.t (id INT PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB`);
  const values = Array.from({ length: rows }, (_, i) => `(${i + 1}, 0)`).join(",");
  await admin.query(`INSERT INTO \`${database}\`.t (id, v) VALUES ${values}`);
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  const pool = createPool({ uri: url.toString(), connectionLimit: concurrency });
  try {
    const label = rows === 1 ? "raw UPDATE+COMMIT, one hot row" : `raw UPDATE+COMMIT, ${rows} rows`;
    return await closedLoop(concurrency, ms, label, async () => {
      await pool.query("UPDATE t SET v = v + 1 WHERE id = ?", [1 + Math.floor(Math.random() * rows)]);
      return true;
    });
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE \`${database}\``);
    await admin.end();
  }
}

/**
 * GET requests/s with `connections` keep-alive connections against `origin + path`; a function `path`
 * names the n-th request's path (to spread requests over many resources).
 */
export async function httpGetRate(
  origin: string,
  path: string | ((n: number) => string),
  headers: Record<string, string>,
  connections: number,
  ms: number,
  label: string,
): Promise<LoadResult> {
  const pool = new Pool(origin, { connections, pipelining: 1 });
  try {
    return await closedLoop(connections, ms, label, async (n) => {
      const res = await pool.request({ method: "GET", path: typeof path === "string" ? path : path(n), headers });
      await res.body.dump();
      return res.statusCode === 200;
    });
  } finally {
    await pool.close();
  }
}

/** The machine's HTTP limit: a bare Node server answering a fixed JSON body. */
export async function bareHttpRate(connections: number, ms: number): Promise<LoadResult> {
  const body = JSON.stringify({ id: "po_bench", status: "SUCCESS", amount: "1.00", currency: "PKR" });
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  try {
    return await httpGetRate(`http://127.0.0.1:${port}`, "/", {}, connections, ms, "bare HTTP GET");
  } finally {
    server.close();
  }
}
