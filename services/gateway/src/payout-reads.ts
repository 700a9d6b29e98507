import type { Client } from "@connectrpc/connect";
import { notFound } from "@mypay/kit";
import type { Payout, PayoutBatchService } from "@mypay/proto/mypay/payouts/v1/payouts";
import { callOptions } from "./downstream.ts";

export interface PayoutReadOptions {
  /** Most distinct ids in one BatchGetPayouts call. */
  maxBatch: number;
  /** BatchGetPayouts calls in flight per merchant; reads arriving meanwhile gather for the next one. */
  concurrency: number;
  /** Deadline of each batch call. */
  timeoutMs: number;
  /** Told the size of every batch sent (for the batch-size histogram). */
  onBatch?: (size: number) => void;
}

interface Waiter {
  resolve: (payout: Payout) => void;
  reject: (error: unknown) => void;
}

/** One merchant's reads: those waiting for a batch (by id, so repeats share one row) and batches in flight. */
interface MerchantReads {
  waiting: Map<string, Waiter[]>;
  /** Request id of the first read waiting, passed on with its batch for the logs. */
  requestId: string;
  inFlight: number;
  scheduled: boolean;
}

/**
 * Coalesces concurrent reads of single payouts into BatchGetPayouts calls, one merchant per call
 * (the merchant is bound by header, as on every call, so a batch can never mix tenants). Reads that
 * arrive in the same event-loop turn, or while the merchant's `concurrency` batches are in flight,
 * share the next call; an idle gateway sends a lone read at once (after the current turn), so
 * batching adds no wait at low load. Each read gets its own payout, NOT_FOUND when the batch did
 * not return it, or the batch call's error.
 */
export class PayoutReader {
  readonly #client: Client<typeof PayoutBatchService>;
  readonly #options: PayoutReadOptions;
  readonly #merchants = new Map<string, MerchantReads>();

  constructor(client: Client<typeof PayoutBatchService>, options: PayoutReadOptions) {
    this.#client = client;
    this.#options = options;
  }

  /** The payout `id` of `merchantId`; rejects with NOT_FOUND (unknown or another merchant's) or the call's error. */
  get(merchantId: string, id: string, requestId: string): Promise<Payout> {
    let reads = this.#merchants.get(merchantId);
    if (!reads) {
      reads = { waiting: new Map(), requestId, inFlight: 0, scheduled: false };
      this.#merchants.set(merchantId, reads);
    }
    if (reads.waiting.size === 0) reads.requestId = requestId;
    const queued = reads;
    return new Promise<Payout>((resolve, reject) => {
      const same = queued.waiting.get(id);
      if (same) same.push({ resolve, reject });
      else queued.waiting.set(id, [{ resolve, reject }]);
      if (!queued.scheduled && queued.inFlight < this.#options.concurrency) {
        queued.scheduled = true;
        setImmediate(() => this.#flush(merchantId, queued));
      }
    });
  }

  #flush(merchantId: string, reads: MerchantReads): void {
    reads.scheduled = false;
    while (reads.inFlight < this.#options.concurrency && reads.waiting.size > 0) {
      const batch = new Map<string, Waiter[]>();
      for (const [id, waiters] of reads.waiting) {
        if (batch.size === this.#options.maxBatch) break;
        batch.set(id, waiters);
        reads.waiting.delete(id);
      }
      reads.inFlight++;
      void this.#send(merchantId, reads, batch, reads.requestId);
    }
  }

  async #send(merchantId: string, reads: MerchantReads, batch: Map<string, Waiter[]>, requestId: string) {
    this.#options.onBatch?.(batch.size);
    try {
      const res = await this.#client.batchGetPayouts(
        { ids: [...batch.keys()] },
        callOptions(merchantId, requestId, this.#options.timeoutMs),
      );
      for (const payout of res.payouts) {
        for (const waiter of batch.get(payout.id) ?? []) waiter.resolve(payout);
        batch.delete(payout.id);
      }
      for (const [id, waiters] of batch) {
        const error = notFound(`payout ${id}`);
        for (const waiter of waiters) waiter.reject(error);
      }
    } catch (err) {
      for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(err);
    } finally {
      reads.inFlight--;
      // Whatever gathered while every slot was busy has waited long enough: send it now.
      if (reads.waiting.size > 0) this.#flush(merchantId, reads);
      else if (reads.inFlight === 0 && !reads.scheduled) this.#merchants.delete(merchantId);
    }
  }
}
