/** What a bank said about one payout attempt. */
export type BankOutcome =
  | { kind: "success"; pspReference: string; processedAt: Date }
  | { kind: "transient"; code: string; message: string }
  | { kind: "failed"; code: string; message: string }
  | { kind: "no_answer" }
  | { kind: "on_hold"; code: string; message: string };

export interface BankTransfer {
  payoutId: string;
  amount: bigint;
  currency: string;
  bankCode: string;
  accountNumber: string;
  accountTitle: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** A rail that moves money to bank accounts. Implementations must be safe to call again for the same payout. */
export interface BankRail {
  send(transfer: BankTransfer): Promise<BankOutcome>;
}
