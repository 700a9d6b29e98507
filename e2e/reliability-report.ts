/**
 * Vitest global setup: gives reliability tests a file to record their figures in, and prints the
 * summary table once, after every test file has run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { summaryFile, summaryTable } from "./reliability-summary.ts";

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), "mypay-reliability-"));
  const file = summaryFile(dir);
  project.provide("reliabilitySummaryFile", file);
  return () => {
    const table = summaryTable(file);
    if (table) console.log(`\nReliability summary\n${table}\n`);
    rmSync(dir, { recursive: true, force: true });
  };
}
