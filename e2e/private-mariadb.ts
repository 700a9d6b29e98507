import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { freePort, hasExited } from "@mypay/kit";

const SERVER_NAMES = ["mariadbd", "mysqld"];

/**
 * The server binary: looked up on PATH and in the `sbin` folder beside each PATH entry's `bin`,
 * where distributions install daemons that ordinary users' PATH leaves out.
 */
function serverBinary(): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const candidates = dirs.flatMap((dir) => [dir, join(dirname(dir), "sbin")]);
  for (const name of SERVER_NAMES) {
    const found = candidates.map((dir) => join(dir, name)).find(existsSync);
    if (found) return found;
  }
  return undefined;
}
const INSTALLERS = ["mariadb-install-db", "mysql_install_db"];

/** A MariaDB server of one test's own, on a loopback port and a temporary data directory. */
export interface PrivateMariadb {
  /** `mysql://root@127.0.0.1:<port>` */
  url: string;
  /** Kills the server (SIGKILL: a crash, recovered from the redo log on the next start). */
  kill(): Promise<void>;
  /** Starts the server again on the same data directory and port; resolves when it takes connections. */
  start(): Promise<void>;
  /** Kills the server and removes its data directory. */
  destroy(): Promise<void>;
}

/** Whether a server on `port` sends its protocol greeting (it does so only once it takes clients). */
function greets(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.once("data", () => finish(true));
    socket.once("error", () => finish(false));
    socket.setTimeout(2_000, () => finish(false));
  });
}

/** Why a private server cannot run here, or undefined when it can. */
export function privateMariadbUnavailable(): string | undefined {
  if (!serverBinary()) return `no server binary (${SERVER_NAMES.join(" or ")}) on PATH or in a sibling sbin folder`;
  return undefined;
}

/**
 * Initialises a data directory and starts a private server on it. Never touches any other server:
 * its own port, socket and files, full durability (`innodb_flush_log_at_trx_commit=1`), so a
 * SIGKILL is a real crash.
 */
export async function startPrivateMariadb(): Promise<PrivateMariadb> {
  const binary = serverBinary();
  if (!binary) throw new Error(privateMariadbUnavailable());
  const dir = mkdtempSync(join(tmpdir(), "mypay-mariadb-"));
  const datadir = join(dir, "data");
  const port = await freePort();
  const run = promisify(execFile);
  let installed = false;
  for (const installer of INSTALLERS) {
    try {
      await run(installer, [
        "--no-defaults",
        `--datadir=${datadir}`,
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        "--user=root",
      ]);
      installed = true;
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  if (!installed) throw new Error(`none of ${INSTALLERS.join(", ")} found`);
  const args = [
    "--no-defaults",
    `--datadir=${datadir}`,
    `--port=${port}`,
    `--socket=${join(dir, "sock")}`,
    `--pid-file=${join(dir, "pid")}`,
    "--bind-address=127.0.0.1",
    "--user=root",
    "--skip-log-bin",
    "--innodb-flush-log-at-trx-commit=1",
    "--innodb-buffer-pool-size=64M",
    "--max-connections=500",
    `--log-error=${join(dir, "error.log")}`,
  ];
  const url = `mysql://root@127.0.0.1:${port}`;
  let server: ChildProcess | undefined;

  const kill = async () => {
    const child = server;
    if (!child || hasExited(child)) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await gone;
  };
  const start = async () => {
    const child = spawn(binary, args, { stdio: "ignore" });
    server = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (hasExited(child))
        throw new Error(`${binary} exited with ${child.exitCode ?? child.signalCode} (see ${dir}/error.log)`);
      if (await greets(port)) return;
      if (Date.now() > deadline) throw new Error("private MariaDB not accepting connections in 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await start();
  return {
    url,
    kill,
    start,
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
