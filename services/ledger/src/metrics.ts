import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { LedgerObserver } from "./store/ledger-store.ts";

/**
 * The ledger's domain metrics on the service registry. Names and labels are a contract with the
 * dashboards and alert rules: change them only together.
 */
export function ledgerMetrics(
  registry: Registry,
  outstandingHolds: () => Promise<{ count: number; minor: bigint }>,
): LedgerObserver {
  const operations = new Counter({
    name: "ledger_operations_total",
    help: "Ledger operations by kind (topup, hold, capture, release) and outcome.",
    labelNames: ["op", "result"] as const,
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: "ledger_batch_size",
    help: "Operations applied per group-commit transaction.",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [registry],
  });
  const conflicts = new Counter({
    name: "ledger_conflicts_total",
    help: "Ledger transactions retried after a deadlock, lock-wait timeout, racing insert or failed guard.",
    registers: [registry],
  });
  const invariantsOk = new Gauge({
    name: "ledger_invariants_ok",
    help: "1 when the last invariant check proved the books, 0 when it found a violation.",
    registers: [registry],
  });
  // Both outstanding gauges come from one query per scrape.
  let pending: Promise<{ count: number; minor: bigint }> | undefined;
  const readOnce = () => {
    pending ??= outstandingHolds().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  new Gauge({
    name: "ledger_holds_outstanding",
    help: "Holds still PENDING (neither captured nor released).",
    registers: [registry],
    async collect() {
      this.set((await readOnce()).count);
    },
  });
  new Gauge({
    name: "ledger_holds_outstanding_minor",
    help: "Sum of PENDING holds in minor units, all currencies together.",
    registers: [registry],
    async collect() {
      this.set(Number((await readOnce()).minor));
    },
  });
  return {
    operation: (op, result) => operations.inc({ op, result }),
    batch: (size) => batchSize.observe(size),
    conflict: () => conflicts.inc(),
    invariants: (ok) => invariantsOk.set(ok ? 1 : 0),
  };
}
