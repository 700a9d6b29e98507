import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

const consoleDir = resolve(import.meta.dirname, "..", "console");

/**
 * Builds the console (into console/dist, which the gateway serves at /console) when it has never been
 * built, so `npm ci && npm start` on a fresh clone serves a working console. An existing build is left
 * as it is: after changing console sources run `npm run build -w @mypay/console` (or `npm run build`).
 * Throws when the build fails.
 */
export async function ensureConsoleBuilt(log: (line: string) => void): Promise<void> {
  if (existsSync(join(consoleDir, "dist", "index.html"))) return;
  log("building the console (first start)…");
  const { build } = await import("vite");
  await build({ root: consoleDir, configFile: join(consoleDir, "vite.config.ts"), logLevel: "warn" });
}
