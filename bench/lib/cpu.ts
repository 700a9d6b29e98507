import { readdirSync, readFileSync } from "node:fs";

/** The pid of a MariaDB/MySQL server running on this machine, if any (Linux /proc). */
function databasePid(): string | undefined {
  try {
    return readdirSync("/proc").find((pid) => {
      if (!/^\d+$/.test(pid)) return false;
      try {
        return /^(mariadbd|mysqld)$/.test(readFileSync(`/proc/${pid}/comm`, "utf8").trim());
      } catch {
        return false;
      }
    });
  } catch {
    return undefined;
  }
}

const pid = databasePid();

/** CPU seconds (user + system) the local database server has used so far; NaN when it does not run here. */
export function databaseCpuSeconds(): number {
  if (!pid) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds (user + system) this process has used so far. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
