import { type ScheduledTask, schedule } from "node-cron";
import type { Logger } from "./logger.ts";

export interface BatchLoopOptions {
  name: string;
  /** Cron tick in seconds (1–59): the loop runs at least this often. */
  tickSeconds: number;
  logger: Logger;
  /**
   * One round: claim a batch, work it, commit once. Resolves true when a full batch was found (run again at
   * once). `stopping` is aborted when the loop is asked to stop: a round may then leave work it has not
   * started to another process rather than keep the shutdown waiting.
   */
  round: (stopping: AbortSignal) => Promise<boolean>;
}

/**
 * A background loop driven by a node-cron tick and by in-process wake-ups. At most one round runs at a
 * time in a process; a wake during a round schedules one more, unless the loop goes on to another round
 * anyway. Wake-ups are only an optimisation: the database decides what is due, so the tick alone is
 * enough for correctness and for any replica count.
 */
export class BatchLoop {
  readonly #options: BatchLoopOptions;
  #task: ScheduledTask | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  readonly #stopping = new AbortController();

  constructor(options: BatchLoopOptions) {
    this.#options = options;
  }

  start(): void {
    this.#task = schedule(`*/${this.#options.tickSeconds} * * * * *`, () => this.wake(), {
      name: this.#options.name,
      noOverlap: true,
    });
    this.wake();
  }

  wake(): void {
    if (this.#stopping.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    // The drain starts a microtask later, once `#running` is set: a wake from the round's first
    // synchronous stretch then counts as one during a round instead of starting a second drain.
    this.#running = Promise.resolve()
      .then(() => this.#drain())
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /**
   * Called by a round just before it reads what is due: the wake-ups that came before are answered by
   * that read, so only later ones call for another round.
   */
  readingDue(): void {
    this.#again = false;
  }

  /** Stops ticking, tells the round in flight, and waits for it to commit. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#task?.destroy();
    await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      const stopping = this.#stopping.signal;
      while (!stopping.aborted) {
        // A wake from before this round is answered by it: only wakes during the last round call for another.
        this.#again = false;
        // False unless a full batch was found: then there may be more due right now.
        if (!(await this.#options.round(stopping))) break;
      }
    } catch (err) {
      this.#options.logger.error({ err, loop: this.#options.name }, "loop round failed; retrying on the next tick");
    }
  }
}
