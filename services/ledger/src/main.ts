import { createLogger, createMetrics, loadConfig, onShutdown, openDatabase, startRpcServer } from "@mypay/kit";
import { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { ledgerSettings } from "./config.ts";
import { ledgerService } from "./service.ts";
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
const store = new LedgerStore(db);
if (config.SEED_DEMO_MERCHANT) {
  await store.topUp(config.DEMO_MERCHANT_ID, "PKR", DEMO_OPENING_MINOR, `seed:${config.DEMO_MERCHANT_ID}`);
}
const server = await startRpcServer({
  port: config.LEDGER_PORT,
  host: config.LEDGER_HOST,
  logger,
  registry: metrics.registry,
  interceptors: [metrics.serverInterceptor],
  routes: (router) => router.service(LedgerService, ledgerService(store)),
  ready: () => db.ping(),
});
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [() => server.close(), () => db.close()]);
