import {
  createLogger,
  createMetrics,
  createRpcClient,
  loadConfig,
  onShutdown,
  openDatabase,
  parseAmount,
  startRpcServer,
} from "@mypay/kit";
import { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { NotifierService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { PayoutAdminService, PayoutBatchService, PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import { Backlog } from "./backlog.ts";
import type { BankRail } from "./bank/bank-rail.ts";
import { CountingRail } from "./bank/counting-rail.ts";
import { SimulatedRail } from "./bank/simulated-rail.ts";
import { payoutsSettings, withSeedMode } from "./config.ts";
import { PayoutMetrics } from "./metrics.ts";
import { Processor } from "./processor.ts";
import { Reconciler } from "./reconciler.ts";
import { OutboxRelay } from "./relay.ts";
import { payoutAdminService, payoutBatchService, payoutService } from "./service.ts";
import { entities } from "./store/entities.ts";
import { migrations } from "./store/migrations/index.ts";
import { PayoutStore } from "./store/payout-store.ts";

const config = withSeedMode(loadConfig(payoutsSettings, "payouts"));
const logger = createLogger("payouts", config.LOG_LEVEL);
const metrics = createMetrics("payouts");
const db = await openDatabase({
  service: "payouts",
  settings: config,
  entities,
  migrations,
  logger,
  poolSize: config.PAYOUTS_DB_POOL,
});
const clientOptions = { timeoutMs: config.RPC_TIMEOUT_MS, interceptors: [metrics.clientInterceptor] };
const ledger = createRpcClient(LedgerService, config.LEDGER_URL, clientOptions);
const notifier = createRpcClient(NotifierService, config.NOTIFIER_URL, clientOptions);
let payoutMetrics: PayoutMetrics | undefined;
// The relay (made below, once the store exists) relays what this process commits without claiming it.
let relay: OutboxRelay | undefined;
const store = new PayoutStore(db, {
  onTransitions: (list) => payoutMetrics?.transitions(list),
  handoff: { leaseMs: config.PROCESSOR_LEASE_MS, deliver: (rows) => relay?.handoff(rows) },
});
payoutMetrics = new PayoutMetrics(metrics.registry, store);
const backlog = new Backlog(store, config.PAYOUTS_MAX_BACKLOG);
const observe = { metrics: payoutMetrics, backlog };
const retry = { retryBaseMs: config.RETRY_BASE_MS, retryCapMs: config.RETRY_CAP_MS };
relay = new OutboxRelay(
  store,
  ledger,
  notifier,
  {
    tickSeconds: config.PROCESSOR_TICK_SECONDS,
    batchSize: config.OUTBOX_BATCH_SIZE,
    leaseMs: config.PROCESSOR_LEASE_MS,
    ...retry,
  },
  logger,
  observe,
);
let rail: BankRail = new SimulatedRail(config.BANK_DELAY_MS);
if (config.BANK_RAIL === "counting") {
  if (!config.BANK_CALLS_FILE) throw new Error("BANK_RAIL=counting needs BANK_CALLS_FILE");
  logger.warn({ file: config.BANK_CALLS_FILE }, "test-only counting bank rail");
  rail = new CountingRail(rail, config.BANK_CALLS_FILE);
}
const processor = new Processor(
  store,
  rail,
  {
    tickSeconds: config.PROCESSOR_TICK_SECONDS,
    batchSize: config.PROCESSOR_BATCH_SIZE,
    concurrency: config.PROCESSOR_CONCURRENCY,
    leaseMs: config.PROCESSOR_LEASE_MS,
    maxAttempts: config.PAYOUT_MAX_ATTEMPTS,
    ...retry,
  },
  logger,
  observe,
);
const ttlMs = config.IDEMPOTENCY_TTL_HOURS * 3_600_000;
const reconciler = new Reconciler(
  store,
  {
    tickSeconds: config.RECONCILE_TICK_SECONDS,
    graceMs: config.RECONCILE_GRACE_SECONDS * 1000,
    // A hold is sent before its lock runs out and its call ends by its deadline: twice that is room enough.
    holdWindowMs: 2 * config.RPC_TIMEOUT_MS,
    batchSize: 200,
    keepMs: ttlMs,
    purgeBatch: 1000,
  },
  logger,
  () => relay.loop.wake(),
);
// The relay needs no wake here: every commit hands its outbox messages over to it, which wakes it.
const onChanged = () => {
  // Seed mode reproduces the old poller: no wake-up on create, only the tick.
  if (!config.PAYOUTS_SEED_MODE && config.PAYOUTS_PROCESSOR) processor.loop.wake();
};
const maxAmount = parseAmount(config.MAX_PAYOUT_AMOUNT, "PKR");
const server = await startRpcServer({
  port: config.PAYOUTS_PORT,
  host: config.PAYOUTS_HOST,
  logger,
  registry: metrics.registry,
  interceptors: [metrics.serverInterceptor],
  routes: (router) =>
    router
      .service(
        PayoutService,
        payoutService({
          store,
          ledger,
          rules: { currencies: config.PAYOUT_CURRENCIES, maxAmountMinor: maxAmount.ok ? maxAmount.minor : 0n },
          reviewThreshold: config.REVIEW_THRESHOLD,
          idempotency: { ttlMs, lockMs: config.IDEMPOTENCY_LOCK_MS },
          groupCommitMs: config.CREATE_GROUP_COMMIT_MS,
          backlog,
          metrics: payoutMetrics,
          onChanged,
        }),
      )
      .service(PayoutAdminService, payoutAdminService({ store, onChanged }))
      .service(PayoutBatchService, payoutBatchService({ store })),
  ready: () => db.ping(),
});
if (config.PAYOUTS_PROCESSOR) processor.loop.start();
relay.loop.start();
reconciler.loop.start();
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [
  () => server.close(),
  () => processor.loop.stop(),
  () => relay.loop.stop(),
  () => reconciler.loop.stop(),
  () => db.close(),
]);
