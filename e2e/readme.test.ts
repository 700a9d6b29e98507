import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { commonSettings } from "@mypay/kit";
import { describe, expect, it } from "vitest";
import { heapSettings } from "../scripts/service-node-flags.ts";
import { gatewaySettings } from "../services/gateway/src/config.ts";
import { ledgerSettings } from "../services/ledger/src/config.ts";
import { notifierSettings } from "../services/notifier/src/config.ts";
import { payoutsSettings } from "../services/payouts/src/config.ts";

const readme = readFileSync(resolve(import.meta.dirname, "..", "README.md"), "utf8");

/** Variable names in the first column of the README's configuration tables (`A` or `A` / `B`). */
function documentedSettings(): Set<string> {
  const section = readme.slice(
    readme.indexOf("## Configuration"),
    readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1),
  );
  const names = new Set<string>();
  for (const line of section.split("\n")) {
    const first = line.startsWith("| `") ? line.split("|")[1] : undefined;
    for (const match of first?.matchAll(/`([A-Z][A-Z0-9_]+)`/g) ?? []) names.add(match[1]!);
  }
  return names;
}

describe("README", () => {
  it("lists every setting every service reads in its configuration table", () => {
    const read = new Set(
      [commonSettings, ledgerSettings, payoutsSettings, notifierSettings, gatewaySettings, heapSettings].flatMap((s) =>
        Object.keys(s),
      ),
    );
    const documented = documentedSettings();
    expect([...read].filter((name) => !documented.has(name)).sort()).toEqual([]);
    expect([...documented].filter((name) => !read.has(name)).sort()).toEqual([]);
  });
});
