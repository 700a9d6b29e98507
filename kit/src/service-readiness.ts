import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { hasExited } from "./testing.ts";

/** How long one probe of `/readyz` may take, so a service that hangs cannot outlast a caller's deadline. */
const READINESS_PROBE_MS = 2_000;

/**
 * Asks `baseUrl`/readyz once. Resolves with "ready", or with why not: `answers <status>`, `no answer
 * within <ms> ms`, or `not listening yet`. Never rejects.
 */
export async function probeReadiness(baseUrl: string, probeMs = READINESS_PROBE_MS): Promise<string> {
  try {
    const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(probeMs) });
    await res.body?.cancel();
    return res.ok ? "ready" : `answers ${res.status}`;
  } catch (err) {
    return (err as Error).name === "TimeoutError" ? `no answer within ${probeMs} ms` : "not listening yet";
  }
}

export interface WaitUntilReadyOptions {
  /** Names the process in error messages. */
  name: string;
  /** Deadline for the whole wait; default 60 s. */
  withinMs?: number;
  /** Pause between probes; default 100 ms. */
  intervalMs?: number;
  /** Limit on each probe; default 2 s. */
  probeMs?: number;
  /** Appended to an error message after a newline, e.g. what the process printed. */
  details?: () => string;
}

/**
 * Polls the `/readyz` of a service that `child` runs until it answers 2xx. Rejects with `<name> exited
 * with <code or signal>` when the child ends first, or `<name> not ready within <s> s (<last reason>)`
 * at the deadline, when the child is left running.
 */
export async function waitUntilReady(
  child: ChildProcess,
  baseUrl: string,
  options: WaitUntilReadyOptions,
): Promise<void> {
  const { name, withinMs = 60_000, intervalMs = 100, probeMs = READINESS_PROBE_MS, details } = options;
  const fail = (message: string) => new Error(details ? `${message}:\n${details()}` : message);
  const deadline = Date.now() + withinMs;
  for (;;) {
    const state = await probeReadiness(baseUrl, probeMs);
    if (state === "ready") return;
    if (hasExited(child)) throw fail(`${name} exited with ${child.exitCode ?? child.signalCode}`);
    if (Date.now() >= deadline) throw fail(`${name} not ready within ${withinMs / 1000} s (${state})`);
    await sleep(intervalMs);
  }
}
