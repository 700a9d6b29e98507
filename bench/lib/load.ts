/** Load generation and statistics shared by the benchmarks. */

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
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  const interval = 1000 / perSecond;
  for (let n = 0; Date.now() < endsAt; n++) {
    const due = started + n * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = Math.max(due, started);
    inFlight.push(
      op(n).then(
        (ok) => {
          if (ok) latencies.push(performance.now() - t0);
          else errors++;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  done();
  return finish(latencies, errors, started);
}
