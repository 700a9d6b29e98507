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
import { PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import { SimulatedRail } from "./bank/simulated-rail.ts";
import { payoutsSettings } from "./config.ts";
import { Processor } from "./processor.ts";
import { OutboxRelay } from "./relay.ts";
import { payoutService } from "./service.ts";
import { entities } from "./store/entities.ts";
import { migrations } from "./store/migrations/index.ts";
import { PayoutStore } from "./store/payout-store.ts";

const config = loadConfig(payoutsSettings, "payouts");
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
const store = new PayoutStore(db);
const retry = { retryBaseMs: config.RETRY_BASE_MS, retryCapMs: config.RETRY_CAP_MS };
const relay = new OutboxRelay(
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
);
const processor = new Processor(
  store,
  new SimulatedRail(config.BANK_DELAY_MS),
  {
    tickSeconds: config.PROCESSOR_TICK_SECONDS,
    batchSize: config.PROCESSOR_BATCH_SIZE,
    concurrency: config.PROCESSOR_CONCURRENCY,
    leaseMs: config.PROCESSOR_LEASE_MS,
    maxAttempts: config.PAYOUT_MAX_ATTEMPTS,
    ...retry,
  },
  logger,
  () => relay.loop.wake(),
);
const maxAmount = parseAmount(config.MAX_PAYOUT_AMOUNT, "PKR");
const server = await startRpcServer({
  port: config.PAYOUTS_PORT,
  host: config.PAYOUTS_HOST,
  logger,
  registry: metrics.registry,
  interceptors: [metrics.serverInterceptor],
  routes: (router) =>
    router.service(
      PayoutService,
      payoutService({
        store,
        ledger,
        rules: { currencies: config.PAYOUT_CURRENCIES, maxAmountMinor: maxAmount.ok ? maxAmount.minor : 0n },
        reviewThreshold: config.REVIEW_THRESHOLD,
        onCreated: () => {
          processor.loop.wake();
          relay.loop.wake();
        },
      }),
    ),
  ready: () => db.ping(),
});
processor.loop.start();
relay.loop.start();
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [
  () => server.close(),
  () => processor.loop.stop(),
  () => relay.loop.stop(),
  () => db.close(),
]);
