import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { isFinal } from "./domain/status.ts";
import type { CommittedTransition, PayoutStore } from "./store/payout-store.ts";

/** Seconds from creation to a final status: from sub-second (benchmarks) to days (review, on hold). */
const TIME_TO_FINAL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400];
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

/**
 * The payouts domain metrics (names are fixed: dashboards and alerts are built on them). One home for
 * them; the store reports transitions, the loops report batches, bank calls and relay errors.
 */
export class PayoutMetrics {
  readonly #created: Counter<"currency">;
  readonly #transitions: Counter<"from" | "to">;
  readonly #timeToFinal: Histogram<"status">;
  readonly #batchSize: Histogram;
  readonly #outboxBacklog: Gauge;
  readonly #relayErrors: Counter<"kind">;
  readonly #bankCalls: Counter<"outcome">;

  constructor(registry: Registry, store: PayoutStore) {
    const registers = [registry];
    this.#created = new Counter({
      name: "payouts_created_total",
      help: "Payouts created (not counting replays).",
      labelNames: ["currency"],
      registers,
    });
    this.#transitions = new Counter({
      name: "payout_transitions_total",
      help: "Payout status changes; from is empty for creation.",
      labelNames: ["from", "to"],
      registers,
    });
    this.#timeToFinal = new Histogram({
      name: "payout_time_to_final_seconds",
      help: "Time from creation to a final status.",
      labelNames: ["status"],
      buckets: TIME_TO_FINAL_BUCKETS,
      registers,
    });
    this.#batchSize = new Histogram({
      name: "payout_processor_batch_size",
      help: "Payouts claimed per processor round.",
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.#outboxBacklog = new Gauge({
      name: "payout_outbox_backlog",
      help: "Outbox messages not yet relayed (ledger calls and events).",
      registers,
    });
    this.#relayErrors = new Counter({
      name: "payout_outbox_relay_errors_total",
      help: "Outbox deliveries that failed, by kind (capture, release, event, invariant).",
      labelNames: ["kind"],
      registers,
    });
    this.#bankCalls = new Counter({
      name: "payout_bank_calls_total",
      help: "Calls to the bank rail, by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    new Gauge({
      name: "payout_processor_lag_seconds",
      help: "Age of the oldest due payout (0 when none is due).",
      registers,
      async collect() {
        const oldest = await store.oldestDueAt();
        this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
      },
    });
    new Gauge({
      name: "payouts_in_status",
      help: "Payouts in each open (not final) status; final ones are counted by payout_transitions_total.",
      labelNames: ["status"],
      registers,
      async collect() {
        for (const [status, n] of Object.entries(await store.countOpen())) this.set({ status }, n);
      },
    });
  }

  created(currency: string): void {
    this.#created.inc({ currency });
  }

  transitions(list: CommittedTransition[]): void {
    const now = Date.now();
    for (const t of list) {
      this.#transitions.inc({ from: t.from ?? "", to: t.to });
      if (isFinal(t.to)) this.#timeToFinal.observe({ status: t.to }, (now - t.row.createdAt.getTime()) / 1000);
    }
  }

  batch(size: number): void {
    this.#batchSize.observe(size);
  }

  bankCall(outcome: string): void {
    this.#bankCalls.inc({ outcome });
  }

  relayError(kind: string, n = 1): void {
    this.#relayErrors.inc({ kind }, n);
  }

  outboxBacklog(n: number): void {
    this.#outboxBacklog.set(n);
  }
}
