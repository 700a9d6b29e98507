/**
 * Fills Node's compile cache (the folder NODE_COMPILE_CACHE names) with the type-stripped source of every
 * service module, so that no service strips types itself. A process that strips even one file loads the
 * stripper and keeps it for its whole life: about 15 MB of RSS, in every service started after a change
 * (a fresh clone, a deploy, a new container). The launcher runs this before it starts the services, and
 * the container image at build time; with a warm cache it takes a fraction of a second.
 *
 * Each module is imported, which runs it: apart from a service's main.ts, modules only define things. A
 * main.ts is loaded (so stripped and cached) but never run: its own imports are refused, so linking fails
 * before any of it runs.
 */
import { readdirSync } from "node:fs";
import { flushCompileCache, registerHooks } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "..");
const NOT_RUN = "compile cache warm-up: an entry point is loaded, not run";

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : modules(path);
    const isModule = entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts");
    const isTestCode = entry.name.endsWith(".test.ts") || entry.name.startsWith("test-");
    return isModule && !isTestCode ? [path] : [];
  });
}

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (context.parentURL?.endsWith("/src/main.ts")) throw new Error(NOT_RUN);
    return nextResolve(specifier, context);
  },
});

const services = readdirSync(join(root, "services")).map((name) => join(root, "services", name, "src"));
const files = [join(root, "proto", "gen"), join(root, "kit", "src"), ...services].flatMap(modules);
for (const file of files) {
  await import(pathToFileURL(file).href).catch((err: Error) => {
    if (err.message !== NOT_RUN) throw err;
  });
}
flushCompileCache();
// Modules may leave timers behind (metrics collectors); this process has nothing more to do.
process.exit(0);
