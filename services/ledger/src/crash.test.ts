import { createRpcClient, dropTestDatabases, errorDetails, Reason, testStorage } from "@mypay/kit";
import { HoldStatus, LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { afterAll, describe, expect, it } from "vitest";
import { ServiceSet } from "../../../e2e/services.ts";

const settings = testStorage();
const engine = settings.DATABASE_URL ? "MariaDB/MySQL" : "SQLite";

describe(`ledger process killed mid-burst on ${engine}`, () => {
  afterAll(async () => {
    await dropTestDatabases(settings);
  });

  it("loses no acknowledged hold and leaves no half-applied transfer", async () => {
    const services = await ServiceSet.create(settings);
    await services.start("ledger");
    const client = createRpcClient(LedgerService, services.url("ledger"), { timeoutMs: 5_000 });
    let killing: Promise<void> | undefined;
    const acknowledged: string[] = [];
    let next = 0;
    const total = 2_000;
    let killed = false;
    // 32 callers fire holds of 1.00 on the sandbox merchant; the process dies after 150 acknowledgements.
    const caller = async () => {
      while (next < total) {
        const holdId = `po_crash_${next++}`;
        try {
          await client.hold({ merchantId: "mch_sandbox", holdId, amount: { currency: "PKR", minorUnits: 100n } });
          acknowledged.push(holdId);
          if (acknowledged.length >= 150 && !killed) {
            killed = true;
            killing = services.kill("ledger");
          }
        } catch {
          if (killed) return; // the connection died with the process: the outcome is unknown, not lost
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, caller));
    await killing;
    expect(killed).toBe(true);

    await services.start("ledger");
    try {
      const again = createRpcClient(LedgerService, services.url("ledger"), { timeoutMs: 10_000 });
      const report = await again.verifyInvariants({});
      expect(report.violations).toEqual([]);
      expect(report.ok).toBe(true);
      for (const holdId of acknowledged) {
        const { hold } = await again.getHold({ holdId });
        expect(hold?.status, holdId).toBe(HoldStatus.PENDING);
        expect(hold?.amount?.minorUnits).toBe(100n);
      }
      // Money is all there: held + available = the opening 1,000,000.00.
      const { balance } = await again.getBalance({ merchantId: "mch_sandbox", currency: "PKR" });
      expect(balance?.balanceMinor).toBe(100_000_000n);
      expect(balance?.lockedMinor).toBe(BigInt(report.holdsChecked) * 100n);
      // A retry of an unacknowledged hold converges on one hold, whether or not the first attempt landed.
      const unknown = `po_crash_${next - 1}`;
      await again.hold({ merchantId: "mch_sandbox", holdId: unknown, amount: { currency: "PKR", minorUnits: 100n } });
      const replay = await again
        .hold({ merchantId: "mch_sandbox", holdId: unknown, amount: { currency: "PKR", minorUnits: 101n } })
        .catch((err: unknown) => errorDetails(err));
      expect(replay).toMatchObject({ reason: Reason.IDEMPOTENCY_MISMATCH });
    } finally {
      await services.stopAll();
    }
  });
});
