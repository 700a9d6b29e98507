import { setTimeout as sleep } from "node:timers/promises";
import { createRpcClient } from "@mypay/kit";
import { HoldStatus, LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { expect } from "vitest";
import { eventually } from "./mesh.ts";

export type LedgerClient = ReturnType<typeof ledgerAt>;

/** A client of the ledger's internal API, for checking the books behind the gateway's back. */
export function ledgerAt(url: string) {
  return createRpcClient(LedgerService, url, { timeoutMs: 30_000 });
}

/** Runs the ledger's VerifyInvariants and fails the test with its violations if any. */
export async function expectInvariants(ledger: LedgerClient): Promise<void> {
  const report = await ledger.verifyInvariants({});
  expect(report.violations).toEqual([]);
  expect(report.ok).toBe(true);
}

/** The status of the hold a payout placed (the hold id is the payout id). */
export async function holdStatus(ledger: LedgerClient, payoutId: string): Promise<HoldStatus> {
  return (await ledger.getHold({ holdId: payoutId })).hold?.status ?? HoldStatus.UNSPECIFIED;
}

/** Waits until nothing of the merchant's is locked any more (every hold settled), then returns its balance. */
export async function settledBalance(ledger: LedgerClient, merchantId: string) {
  let last: unknown;
  try {
    return await eventually(
      async () => {
        const balance = (await ledger.getBalance({ merchantId, currency: "PKR" })).balance!;
        last = balance;
        return balance.lockedMinor === 0n ? balance : undefined;
      },
      60_000,
      `${merchantId} with nothing locked`,
    );
  } catch (err) {
    const shown = JSON.stringify(last, (_, v) => (typeof v === "bigint" ? String(v) : v));
    throw new Error(`${(err as Error).message}; last balance ${shown}`);
  }
}

/** Watches the merchant's locked funds for `forMs` and fails the moment anything is locked. */
export async function expectNothingLockedFor(ledger: LedgerClient, merchantId: string, forMs: number): Promise<void> {
  const until = Date.now() + forMs;
  do {
    const balance = (await ledger.getBalance({ merchantId, currency: "PKR" })).balance!;
    expect(balance.lockedMinor, `${merchantId} has funds locked`).toBe(0n);
    await sleep(100);
  } while (Date.now() < until);
}
