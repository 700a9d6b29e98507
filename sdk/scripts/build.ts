/**
 * Builds the publishable package into sdk/dist: ESM and CJS JavaScript with .d.ts beside each, a
 * publish manifest with the `exports` map, and the README.
 *
 * The generated contract code (`@mypay/proto`, a private workspace package) is compiled into the SDK:
 * each format is staged as a copy of src/ plus the generated files under src/gen/, with every
 * `@mypay/proto/<path>` import rewritten to the relative `gen/<path>_pb.ts`, then compiled by tsc.
 * Only the specifiers change; the code compiled is the code tested.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const sdk = resolve(import.meta.dirname, "..");
const root = resolve(sdk, "..");
const dist = join(sdk, "dist");
const stage = join(sdk, ".build");
const manifest = JSON.parse(readFileSync(join(sdk, "package.json"), "utf8"));
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function rewriteProtoImports(file: string, srcDir: string): void {
  const text = readFileSync(file, "utf8");
  const rewritten = text.replace(/(["'])@mypay\/proto\/([^"']+)\1/g, (_, quote: string, path: string) => {
    let target = relative(dirname(file), join(srcDir, "gen", `${path}_pb.ts`)).replaceAll("\\", "/");
    if (!target.startsWith(".")) target = `./${target}`;
    return `${quote}${target}${quote}`;
  });
  if (rewritten !== text) writeFileSync(file, rewritten);
}

function build(format: "esm" | "cjs"): void {
  const dir = join(stage, format);
  const srcDir = join(dir, "src");
  cpSync(join(sdk, "src"), srcDir, {
    recursive: true,
    // The CLI is an ESM-only executable; tests never ship.
    filter: (path) =>
      !path.endsWith(".test.ts") && !(format === "cjs" && relative(join(sdk, "src"), path).split(/[\\/]/)[0] === "cli"),
  });
  for (const area of ["mypay", "google"]) {
    cpSync(join(root, "proto", "gen", area), join(srcDir, "gen", area), { recursive: true });
  }
  for (const file of filesUnder(srcDir)) if (file.endsWith(".ts")) rewriteProtoImports(file, srcDir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: format === "esm" ? "module" : "commonjs" }));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        lib: ["es2023"],
        types: ["node"],
        module: "nodenext",
        moduleResolution: "nodenext",
        strict: true,
        noImplicitOverride: true,
        verbatimModuleSyntax: false,
        rewriteRelativeImportExtensions: true,
        allowImportingTsExtensions: true,
        declaration: true,
        skipLibCheck: true,
        rootDir: "src",
        outDir: join(dist, format),
      },
      include: ["src"],
    }),
  );
  execFileSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { stdio: "inherit" });
  writeFileSync(
    join(dist, format, "package.json"),
    `${JSON.stringify({ type: format === "esm" ? "module" : "commonjs" })}\n`,
  );
}

const entry = (name: string) => ({
  import: { types: `./esm/${name}.d.ts`, default: `./esm/${name}.js` },
  require: { types: `./cjs/${name}.d.ts`, default: `./cjs/${name}.js` },
});

rmSync(dist, { recursive: true, force: true });
rmSync(stage, { recursive: true, force: true });
try {
  build("esm");
  build("cjs");
} finally {
  rmSync(stage, { recursive: true, force: true });
}

const { dependencies, peerDependencies, peerDependenciesMeta, engines, name, version, description, keywords } =
  manifest;
// The workspace pins exact versions; a published library asks for compatible ones so apps dedupe.
const caret = (deps: Record<string, string> = {}) =>
  Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, /^\d/.test(v) ? `^${v}` : v]));
const publish = {
  name,
  version,
  description,
  keywords,
  type: "module",
  main: "./cjs/index.js",
  module: "./esm/index.js",
  types: "./cjs/index.d.ts",
  exports: { ".": entry("index"), "./testing": entry("testing"), "./package.json": "./package.json" },
  bin: { "mypay-webhooks": "./esm/cli/main.js" },
  files: ["esm", "cjs", "README.md"],
  sideEffects: false,
  engines,
  dependencies: caret(dependencies),
  peerDependencies,
  peerDependenciesMeta,
};
writeFileSync(join(dist, "package.json"), `${JSON.stringify(publish, null, 2)}\n`);
chmodSync(join(dist, "esm", "cli", "main.js"), 0o755);
if (existsSync(join(sdk, "README.md"))) cpSync(join(sdk, "README.md"), join(dist, "README.md"));
console.log(`built ${name}@${version} into ${relative(root, dist)} (npm pack ./sdk/dist to package it)`);
