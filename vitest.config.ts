import { defineConfig } from "vitest/config";

export default defineConfig({
  // The console's component tests (*.test.tsx) render Preact.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  test: {
    include: ["**/*.test.ts", "**/*.test.tsx"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites open their own databases and processes; run files one at a time on 2 cores.
    fileParallelism: false,
    // Prints the reliability suite's summary table once at the end of the run.
    globalSetup: ["e2e/reliability-report.ts"],
  },
});
