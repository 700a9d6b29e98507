import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";

/** What one reliability test proved; the global teardown adds them up into one table. */
export interface Figures {
  /** Faults injected: kills, restarts, delays, outages, hostile requests. */
  faults: number;
  /** Payouts whose final (or expected non-final) state, hold and webhook were checked. */
  payouts: number;
  /** Ledger VerifyInvariants runs that passed. */
  invariants: number;
  /** 5xx answers seen where the test allows none (hostile input, tenancy). */
  fiveXx: number;
  /** Payouts lost: accepted (or applied) but missing, duplicated or wrongly settled. */
  lost: number;
}

declare module "vitest" {
  export interface ProvidedContext {
    reliabilitySummaryFile: string;
  }
}

const FILE_NAME = "reliability-summary.jsonl";

/** The file the figures of this run go to (one JSON line per test). */
export function summaryFile(dir: string): string {
  return join(dir, FILE_NAME);
}

/** Records the figures of one test for the end-of-run table. */
export function recordFigures(test: string, figures: Partial<Figures>): void {
  const line = { test, faults: 0, payouts: 0, invariants: 0, fiveXx: 0, lost: 0, ...figures };
  appendFileSync(inject("reliabilitySummaryFile"), `${JSON.stringify(line)}\n`);
}

/** The table of every recorded test plus a total row, or undefined when none recorded anything. */
export function summaryTable(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const rows = readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Figures & { test: string });
  if (rows.length === 0) return undefined;
  const total = { test: "total", faults: 0, payouts: 0, invariants: 0, fiveXx: 0, lost: 0 };
  for (const row of rows) {
    for (const k of ["faults", "payouts", "invariants", "fiveXx", "lost"] as const) total[k] += row[k];
  }
  const header = ["test", "faults injected", "payouts checked", "invariants checked", "unexpected 5xx", "lost"];
  const cells = [...rows, total].map((r) => [
    r.test,
    String(r.faults),
    String(r.payouts),
    String(r.invariants),
    String(r.fiveXx),
    String(r.lost),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    `| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(header), rule, ...cells.slice(0, -1).map(line), rule, line(cells.at(-1)!)].join("\n");
}
