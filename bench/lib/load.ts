/** Load generation and statistics shared by the benchmarks. */

import { machineBusy } from "./cpu.ts";

/**
 * A full garbage collection before a measured phase (when node runs with `--expose-gc`, as the `bench`
 * scripts do), so garbage left by the phase before is not collected in the middle of this one: the load
 * generator's own pauses would count as the latency of every call in flight.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A one-line countdown on stderr while a phase runs (only on a terminal). */
export function progress(label: string, endsAt: number): () => void {
  if (!process.stderr.isTTY) return () => undefined;
  const timer = setInterval(() => {
    const left = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
    const width = 24;
    const total = Math.max(1, endsAt - startedAt);
    const filled = Math.round(width * Math.min(1, (Date.now() - startedAt) / total));
    process.stderr.write(`\r  ${label.padEnd(40)} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${left}s `);
  }, 250);
  const startedAt = Date.now();
  return () => {
    clearInterval(timer);
    process.stderr.write("\r\x1b[K");
  };
}

export interface LoadResult {
  ops: number;
  perSecond: number;
  /** Sorted latencies of successful operations, in ms. */
  latencies: number[];
  errors: number;
  /** Open loop: p99 of how late this process started an operation after its scheduled time, in ms. */
  lateP99?: number;
  /** Open loop: the share of the machine's CPU (all cores) in use meanwhile, 0–1. */
  machineBusy?: number;
}

function finish(latencies: number[], errors: number, startedMs: number): LoadResult {
  latencies.sort((a, b) => a - b);
  const elapsed = (performance.now() - startedMs) / 1000;
  return { ops: latencies.length, perSecond: latencies.length / elapsed, latencies, errors };
}

/** `workers` loops each running `op` back to back for `ms` (max throughput). `op` resolves false on failure. */
export async function closedLoop(
  workers: number,
  ms: number,
  label: string,
  op: (n: number) => Promise<boolean>,
): Promise<LoadResult> {
  const endsAt = Date.now() + ms;
  const done = progress(label, endsAt);
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  collectGarbage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < endsAt) {
        const t0 = performance.now();
        const ok = await op(next++).catch(() => false);
        if (ok) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  done();
  return finish(latencies, errors, started);
}

/** Starts `op` at a fixed arrival rate for `ms`, whatever the latency (open loop: no coordinated omission). */
export async function openLoop(
  perSecond: number,
  ms: number,
  label: string,
  op: (n: number) => Promise<boolean>,
): Promise<LoadResult> {
  const endsAt = Date.now() + ms;
  const done = progress(label, endsAt);
  const latencies: number[] = [];
  let errors = 0;
  /** Its own stalls (garbage collection, waiting for a core) count in every latency; this shows how much. */
  const lateness: number[] = [];
  let pending = 0;
  let drained: (() => void) | undefined;
  collectGarbage();
  const busy = machineBusy();
  const started = performance.now();
  const interval = 1000 / perSecond;
  for (let n = 0; Date.now() < endsAt; n++) {
    const due = started + n * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = Math.max(due, started);
    lateness.push(performance.now() - t0);
    pending++;
    op(n)
      .then(
        (ok) => {
          if (ok) latencies.push(performance.now() - t0);
          else errors++;
        },
        () => {
          errors++;
        },
      )
      .finally(() => {
        if (--pending === 0) drained?.();
      });
  }
  if (pending > 0) await new Promise<void>((resolve) => (drained = resolve));
  const machine = busy();
  done();
  return {
    ...finish(latencies, errors, started),
    lateP99: percentile(
      lateness.sort((a, b) => a - b),
      99,
    ),
    machineBusy: machine,
  };
}
