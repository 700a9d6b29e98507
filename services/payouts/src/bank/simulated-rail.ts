import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { BankOutcome, BankRail, BankTransfer } from "./bank-rail.ts";

/**
 * The sandbox bank: the outcome is chosen by the account number's last four digits.
 * 0001 success · 0002 transient failure on the first attempt, then success · 0003 failure ·
 * 0004 never answers · 0005 on hold · anything else success.
 */
export class SimulatedRail implements BankRail {
  readonly #delayMs: number;

  constructor(delayMs: number) {
    this.#delayMs = delayMs;
  }

  async send(transfer: BankTransfer): Promise<BankOutcome> {
    if (this.#delayMs > 0) await sleep(this.#delayMs);
    switch (transfer.accountNumber.slice(-4)) {
      case "0002":
        if (transfer.attempt === 1) return { kind: "transient", code: "BANK_UNAVAILABLE", message: "bank timed out" };
        return success(transfer);
      case "0003":
        return { kind: "failed", code: "ACCOUNT_CLOSED", message: "beneficiary account is closed" };
      case "0004":
        return { kind: "no_answer" };
      case "0005":
        return { kind: "on_hold", code: "COMPLIANCE_REVIEW", message: "held by the bank for compliance review" };
      default:
        return success(transfer);
    }
  }
}

function success(transfer: BankTransfer): BankOutcome {
  // Deterministic per payout, so a repeated call after a crash reports the same reference.
  const digest = createHash("sha256").update(transfer.payoutId).digest("hex").slice(0, 16).toUpperCase();
  return { kind: "success", pspReference: `PSP${digest}`, processedAt: new Date() };
}
