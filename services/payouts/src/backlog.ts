import type { PayoutStore } from "./store/payout-store.ts";

/**
 * Bounded backlog (DESIGN §9): CreatePayout asks `full()`, which reads counts the background loops
 * refresh (at most once per `refreshMs`), never a COUNT per request. Counts are capped scans.
 */
export class Backlog {
  readonly #store: PayoutStore;
  readonly #max: number;
  readonly #refreshMs: number;
  #due = 0;
  #outbox = 0;
  #dueAt = 0;
  #outboxAt = 0;

  constructor(store: PayoutStore, max: number, refreshMs = 500) {
    this.#store = store;
    this.#max = max;
    this.#refreshMs = refreshMs;
  }

  /** Whether new payouts must be refused for now (due payouts or outbox past the bound). */
  full(): boolean {
    return this.#due >= this.#max || this.#outbox >= this.#max;
  }

  /** Called by the processor after each round. */
  async refreshDue(): Promise<void> {
    if (Date.now() - this.#dueAt < this.#refreshMs) return;
    this.#dueAt = Date.now();
    this.#due = await this.#store.dueCount(this.#max + 1);
  }

  /** Called by the relay after each round; returns the outbox backlog. */
  async refreshOutbox(): Promise<number> {
    if (Date.now() - this.#outboxAt >= this.#refreshMs) {
      this.#outboxAt = Date.now();
      this.#outbox = await this.#store.outboxBacklog(this.#max + 1);
    }
    return this.#outbox;
  }
}
