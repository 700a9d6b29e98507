/**
 * The bound on messages waiting for delivery. Counting them on every Publish would cost a query per
 * call, so the count is sampled at most once per `maxAgeMs` (one query in flight at a time) and
 * messages queued by this process since the sample are added to it.
 */
export class BacklogLimit {
  readonly #count: () => Promise<number>;
  readonly #max: number;
  readonly #maxAgeMs: number;
  #sample: { at: number; count: Promise<number> } | undefined;
  #queuedSince = 0;

  constructor(count: () => Promise<number>, max: number, maxAgeMs = 1_000) {
    this.#count = count;
    this.#max = max;
    this.#maxAgeMs = maxAgeMs;
  }

  /** Whether the backlog is at its bound. A failed count is not held against callers. */
  async full(): Promise<boolean> {
    if (!this.#sample || Date.now() - this.#sample.at >= this.#maxAgeMs) {
      this.#queuedSince = 0;
      this.#sample = { at: Date.now(), count: this.#count().catch(() => 0) };
    }
    return (await this.#sample.count) + this.#queuedSince >= this.#max;
  }

  /** Counts messages this process queued since the last sample. */
  noteQueued(messages: number): void {
    this.#queuedSince += messages;
  }

  get max(): number {
    return this.#max;
  }
}
