import { createLogger, createMetrics, loadConfig, onShutdown, openDatabase, startRpcServer } from "@mypay/kit";
import { BalanceService, LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { ledgerSettings } from "./config.ts";
import { nextInvariantCheckMs } from "./domain/invariant-schedule.ts";
import { ledgerMetrics } from "./metrics.ts";
import { balanceService, ledgerService } from "./service.ts";
import { entities } from "./store/entities.ts";
import { LedgerStore } from "./store/ledger-store.ts";
import { migrations } from "./store/migrations/index.ts";

/** The sandbox merchant's opening balance: 1,000,000.00 PKR. */
const DEMO_OPENING_MINOR = 100_000_000n;

const config = loadConfig(ledgerSettings, "ledger");
const logger = createLogger("ledger", config.LOG_LEVEL);
const metrics = createMetrics("ledger");
const db = await openDatabase({
  service: "ledger",
  settings: config,
  entities,
  migrations,
  logger,
  poolSize: config.LEDGER_DB_POOL,
});
// The outstanding-holds gauges read from the store only at scrape time, after it exists.
const ledger: LedgerStore = new LedgerStore(db, {
  observer: ledgerMetrics(metrics.registry, () => ledger.outstandingHolds()),
  groupCommit: {
    maxBatch: config.LEDGER_BATCH_MAX,
    maxWaitMs: config.LEDGER_BATCH_WAIT_MS,
    concurrency: config.LEDGER_BATCH_CONCURRENCY,
  },
});
if (config.SEED_DEMO_MERCHANT) {
  await ledger.topUp(config.DEMO_MERCHANT_ID, "PKR", DEMO_OPENING_MINOR, `seed:${config.DEMO_MERCHANT_ID}`);
}

/**
 * Proves the books now and then; a violation is logged loudly and turns ledger_invariants_ok to 0. The
 * next check is scheduled when one ends, further out when it was slow (see nextInvariantCheckMs).
 */
let invariantTimer: NodeJS.Timeout | undefined;
async function checkInvariants(): Promise<void> {
  const started = performance.now();
  try {
    const report = await ledger.verifyRecent();
    if (!report.ok) logger.error({ violations: report.violations }, "ledger invariants broken");
  } catch (err) {
    logger.error({ err }, "ledger invariant check failed");
  }
  const waitMs = nextInvariantCheckMs(config.LEDGER_INVARIANT_CHECK_SECONDS * 1000, performance.now() - started);
  if (invariantTimer) invariantTimer = setTimeout(() => void checkInvariants(), waitMs).unref();
}
if (config.LEDGER_INVARIANT_CHECK_SECONDS > 0) {
  invariantTimer = setTimeout(() => void checkInvariants(), 0).unref();
}

const server = await startRpcServer({
  port: config.LEDGER_PORT,
  host: config.LEDGER_HOST,
  logger,
  registry: metrics.registry,
  interceptors: [metrics.serverInterceptor],
  routes: (router) => {
    router.service(LedgerService, ledgerService(ledger));
    router.service(BalanceService, balanceService(ledger));
  },
  ready: () => db.ping(),
});
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [
  () => {
    clearTimeout(invariantTimer);
    invariantTimer = undefined;
  },
  () => server.close(),
  () => ledger.drained(),
  () => db.close(),
]);
