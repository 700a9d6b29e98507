import { appendFileSync } from "node:fs";
import type { BankOutcome, BankRail, BankTransfer } from "./bank-rail.ts";

/**
 * Test only (`BANK_RAIL=counting`): passes every call to another rail and first appends
 * `<payoutId> <attempt> <pid>` to a file, synchronously, so a test can count bank calls across replicas
 * and crashes. Never for production: the file grows with every call.
 */
export class CountingRail implements BankRail {
  readonly #inner: BankRail;
  readonly #file: string;

  constructor(inner: BankRail, file: string) {
    this.#inner = inner;
    this.#file = file;
  }

  send(transfer: BankTransfer): Promise<BankOutcome> {
    appendFileSync(this.#file, `${transfer.payoutId} ${transfer.attempt} ${process.pid}\n`);
    return this.#inner.send(transfer);
  }
}
