/** What one operation of a group commit came to: its own result or its own error. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface GroupCommitOptions<Op = unknown> {
  /** Most operations in one commit. */
  maxBatch: number;
  /** Longest an operation waits for company before its batch is committed (0: the next timer tick). */
  maxWaitMs: number;
  /** Commits in flight at once; more operations queue (in arrival order) until one finishes. */
  concurrency: number;
  /**
   * What an operation locks (e.g. its merchant). Operations sharing a key never ride in two commits at
   * once: a batch in flight keeps its keys, later operations on them wait for the next batch in their
   * arrival order, and operations on other keys go ahead beside it. Without it, concurrent commits that
   * lock the same rows only queue on those locks inside the database, one connection each, in small batches.
   */
  keysOf?: (op: Op) => readonly string[];
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
  readonly #options: GroupCommitOptions<Op>;
  readonly #commit: (ops: Op[]) => Promise<Outcome<R>[]>;
  #queue: Waiting<Op, R>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  #idle: Array<() => void> = [];

  /** Keys of the batches in flight, with how many of those batches hold each. */
  readonly #busy = new Map<string, number>();

  constructor(options: GroupCommitOptions<Op>, commit: (ops: Op[]) => Promise<Outcome<R>[]>) {
    this.#options = options;
    this.#commit = commit;
  }

  /** Queues one operation; resolves or rejects with that operation's own outcome. */
  submit(op: Op): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      if (this.#queue.length >= this.#options.maxBatch) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#options.maxWaitMs);
    });
  }

  /** Resolves once nothing is queued or in flight (for shutdown). */
  drained(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((done) => this.#idle.push(done));
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#inFlight < this.#options.concurrency && this.#queue.length > 0) {
      const batch = this.#take();
      if (batch.length === 0) return; // everything queued waits on a batch in flight
      this.#inFlight++;
      void this.#run(batch);
    }
  }

  /** The next batch: the oldest operations, skipping (in order) those whose keys a batch in flight holds. */
  #take(): Waiting<Op, R>[] {
    const keysOf = this.#options.keysOf;
    if (!keysOf) return this.#queue.splice(0, this.#options.maxBatch);
    const batch: Waiting<Op, R>[] = [];
    const left: Waiting<Op, R>[] = [];
    // Keys of skipped operations: a later operation on one of them must not overtake the skipped one.
    const blocked = new Set<string>();
    for (const waiting of this.#queue) {
      const keys = keysOf(waiting.op);
      if (batch.length < this.#options.maxBatch && !keys.some((k) => this.#busy.has(k) || blocked.has(k))) {
        batch.push(waiting);
      } else {
        left.push(waiting);
        for (const k of keys) blocked.add(k);
      }
    }
    this.#queue = left;
    for (const waiting of batch) for (const k of keysOf(waiting.op)) this.#busy.set(k, (this.#busy.get(k) ?? 0) + 1);
    return batch;
  }

  #release(batch: Waiting<Op, R>[]): void {
    const keysOf = this.#options.keysOf;
    if (!keysOf) return;
    for (const waiting of batch) {
      for (const k of keysOf(waiting.op)) {
        const left = (this.#busy.get(k) ?? 1) - 1;
        if (left === 0) this.#busy.delete(k);
        else this.#busy.set(k, left);
      }
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
      this.#release(batch);
      this.#inFlight--;
      // Whatever queued while every slot was busy has waited long enough.
      if (this.#queue.length > 0) this.#flush();
      else if (this.#inFlight === 0) for (const done of this.#idle.splice(0)) done();
    }
  }
}
