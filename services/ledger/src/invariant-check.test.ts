import { createLogger, type Database, dropTestDatabases, openDatabase, testStorage } from "@mypay/kit";
import { afterAll, describe, expect, it } from "vitest";
import { ServiceSet } from "../../../e2e/services.ts";
import { entities } from "./store/entities.ts";
import { migrations } from "./store/migrations/index.ts";

const settings = testStorage();
const engine = settings.DATABASE_URL ? "MariaDB/MySQL" : "SQLite";

/** Polls the process's `ledger_invariants_ok` until it reads `want`; fails after `ms`. */
async function invariantsOk(ledgerUrl: string, want: 0 | 1, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  let seen = "";
  while (Date.now() < deadline) {
    const text = await (await fetch(`${ledgerUrl}/metrics`)).text();
    seen = /^ledger_invariants_ok(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? "absent";
    if (seen === String(want)) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`ledger_invariants_ok stayed ${seen}, expected ${want}`);
}

describe(`the ledger's periodic invariant check on ${engine}`, () => {
  let services: ServiceSet | undefined;
  let db: Database | undefined;

  afterAll(async () => {
    await services?.kill("ledger");
    await db?.close();
    await dropTestDatabases(settings);
  });

  it("finds a balance changed behind the ledger's back, says so loudly, and sees it mended", async () => {
    services = await ServiceSet.create(settings, { LEDGER_INVARIANT_CHECK_SECONDS: "1" });
    await services.start("ledger");
    const ledgerUrl = services.url("ledger");
    await invariantsOk(ledgerUrl, 1);

    db = await openDatabase({
      service: "ledger",
      settings,
      entities,
      migrations,
      logger: createLogger("test", "warn"),
    });
    const tamper = (delta: number) =>
      db!.sql.run("update accounts set balance = balance + ? where merchant_id = ? and kind = ?", [
        delta,
        "mch_sandbox",
        "available",
      ]);
    expect(await tamper(1)).toBe(1);
    await invariantsOk(ledgerUrl, 0);
    const broken = services.output.filter((line) => line.includes('"msg":"ledger invariants broken"'));
    expect(broken.length).toBeGreaterThan(0);
    expect(broken[0]).toContain("account balances differ from their entries");

    // The check keeps running: once the books are right again, so is the gauge.
    expect(await tamper(-1)).toBe(1);
    await invariantsOk(ledgerUrl, 1);
  });
});
