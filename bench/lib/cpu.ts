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

/** The machine's busy and total CPU time so far, in clock ticks over all cores (Linux /proc/stat); NaN elsewhere. */
function machineTicks(): { busy: number; total: number } {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, n) => sum + n, 0);
    // idle and iowait
    return { busy: total - fields[3]! - fields[4]!, total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

/** Starts measuring how busy the whole machine is; the returned function gives the busy share (0–1) since. */
export function machineBusy(): () => number {
  const start = machineTicks();
  return () => {
    const end = machineTicks();
    return (end.busy - start.busy) / (end.total - start.total);
  };
}
