import { describe, expect, it } from "vitest";
import type { BankTransfer } from "./bank-rail.ts";
import { SimulatedRail } from "./simulated-rail.ts";

const transfer = (accountNumber: string, attempt = 1, payoutId = "po_test"): BankTransfer => ({
  payoutId,
  amount: 100_000n,
  currency: "PKR",
  bankCode: "HBL",
  accountNumber,
  accountTitle: "Ali Khan",
  attempt,
});

describe("SimulatedRail", () => {
  const rail = new SimulatedRail(0);

  it.each(["1234560001", "0001"])("pays %s with a PSP reference and a processing time", async (account) => {
    const before = Date.now();
    const outcome = await rail.send(transfer(account));
    expect(outcome).toMatchObject({ kind: "success", pspReference: expect.stringMatching(/^PSP[0-9A-F]{16}$/) });
    if (outcome.kind !== "success") throw new Error("unreachable");
    expect(outcome.processedAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(outcome.processedAt.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it("reports the same PSP reference for the same payout, and another for another payout", async () => {
    const a = await rail.send(transfer("1234560001", 1, "po_a"));
    const again = await rail.send(transfer("1234560001", 3, "po_a"));
    const b = await rail.send(transfer("1234560001", 1, "po_b"));
    if (a.kind !== "success" || again.kind !== "success" || b.kind !== "success") throw new Error("expected success");
    expect(again.pspReference).toBe(a.pspReference);
    expect(b.pspReference).not.toBe(a.pspReference);
  });

  it("fails 0002 transiently on the first attempt only", async () => {
    expect(await rail.send(transfer("1234560002", 1))).toEqual({
      kind: "transient",
      code: "BANK_UNAVAILABLE",
      message: "bank timed out",
    });
    for (const attempt of [2, 3, 7]) {
      expect(await rail.send(transfer("1234560002", attempt))).toMatchObject({ kind: "success" });
    }
  });

  it.each([
    ["1234560003", { kind: "failed", code: "ACCOUNT_CLOSED", message: "beneficiary account is closed" }],
    ["1234560004", { kind: "no_answer" }],
    ["1234560005", { kind: "on_hold", code: "COMPLIANCE_REVIEW", message: "held by the bank for compliance review" }],
  ])("answers %s with the same outcome on every attempt", async (account, expected) => {
    for (const attempt of [1, 2, 5]) expect(await rail.send(transfer(account, attempt))).toEqual(expected);
  });

  it.each(["1234560000", "1234560006", "1234569999", "0003123456", "1234500010", "00020"])(
    "pays any other suffix (%s)",
    async (account) => {
      expect(await rail.send(transfer(account, 1))).toMatchObject({ kind: "success" });
    },
  );

  it("waits the configured delay before answering", async () => {
    const slow = new SimulatedRail(40);
    const started = performance.now();
    expect(await slow.send(transfer("1234560003"))).toMatchObject({ kind: "failed" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });
});
