/** What one operation of a group commit came to: its own result or its own error. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** Most operations in one commit. */
  maxBatch: number;
  /**
   * Longest an operation waits for company before its batch is committed. 0: none beyond the current
   * turn of the event loop (everything submitted in it shares a batch); under load batches still grow,
   * because operations arriving while `concurrency` commits are in flight wait for the next one.
   */
  maxWaitMs: number;
  /** Commits in flight at once; more operations queue (in arrival order) until one finishes. */
  concurrency: number;
}

interface Waiting<Op, R> {
  op: Op;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: operations submitted within a short window share one commit. Batches are cut from one
 * FIFO queue in arrival order and bounded in size and wait; each operation is answered with its own
 * outcome, so one failing operation never fails its neighbours. Under load the window closes by
 * itself: while `concurrency` commits are in flight, new operations gather for the next batch.
 *
 * The committer is only a throughput device: `commit` must be correct on its own (row locks in the
 * database decide), so any number of processes may each run one.
 */
export class GroupCommitter<Op, R> {
  readonly #options: GroupCommitOptions;
  readonly #commit: (ops: Op[]) => Promise<Outcome<R>[]>;
  #queue: Waiting<Op, R>[] = [];
  #cancelTimer: (() => void) | undefined;
  #inFlight = 0;
  #idle: Array<() => void> = [];

  constructor(options: GroupCommitOptions, commit: (ops: Op[]) => Promise<Outcome<R>[]>) {
    this.#options = options;
    this.#commit = commit;
  }

  /** Queues one operation; resolves or rejects with that operation's own outcome. */
  submit(op: Op): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      if (this.#queue.length >= this.#options.maxBatch) this.#flush();
      else this.#cancelTimer ??= this.#schedule();
    });
  }

  /** Resolves once nothing is queued or in flight (for shutdown). */
  drained(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((done) => this.#idle.push(done));
  }

  #schedule(): () => void {
    const flush = () => this.#flush();
    if (this.#options.maxWaitMs > 0) {
      const timer = setTimeout(flush, this.#options.maxWaitMs);
      return () => clearTimeout(timer);
    }
    const immediate = setImmediate(flush);
    return () => clearImmediate(immediate);
  }

  #flush(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    while (this.#inFlight < this.#options.concurrency && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#options.maxBatch);
      this.#inFlight++;
      void this.#run(batch);
    }
  }

  async #run(batch: Waiting<Op, R>[]): Promise<void> {
    try {
      const outcomes = await this.#commit(batch.map((w) => w.op));
      batch.forEach((waiting, i) => {
        const outcome = outcomes[i];
        if (!outcome) waiting.reject(new Error("group commit returned no outcome for an operation"));
        else if (outcome.ok) waiting.resolve(outcome.value);
        else waiting.reject(outcome.error);
      });
    } catch (err) {
      for (const waiting of batch) waiting.reject(err);
    } finally {
      this.#inFlight--;
      // Whatever queued while every slot was busy has waited long enough.
      if (this.#queue.length > 0) this.#flush();
      else if (this.#inFlight === 0) for (const done of this.#idle.splice(0)) done();
    }
  }
}
