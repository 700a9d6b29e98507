import {
  createLogger,
  createMetrics,
  createRpcClient,
  loadConfig,
  onShutdown,
  openDatabase,
  startRpcServer,
} from "@mypay/kit";
import { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import { Authenticator } from "./auth.ts";
import { gatewaySettings } from "./config.ts";
import type { Downstream } from "./downstream.ts";
import { publicPayoutService } from "./public-payouts.ts";
import { restHandler } from "./rest/rest-handler.ts";
import { restRoutes } from "./rest/routes.ts";
import { entities } from "./store/entities.ts";
import { KeyStore } from "./store/key-store.ts";
import { migrations } from "./store/migrations/index.ts";

const config = loadConfig(gatewaySettings, "gateway");
const logger = createLogger("gateway", config.LOG_LEVEL);
const metrics = createMetrics("gateway");
const db = await openDatabase({
  service: "gateway",
  settings: config,
  entities,
  migrations,
  logger,
  poolSize: config.GATEWAY_DB_POOL,
});
const keys = new KeyStore(db);
if (config.SEED_DEMO_MERCHANT) await keys.seed(config.DEMO_MERCHANT_ID, "Sandbox merchant", config.SANDBOX_API_KEY);
const auth = new Authenticator(keys);
const clientOptions = { timeoutMs: config.RPC_TIMEOUT_MS, interceptors: [metrics.clientInterceptor] };
const down: Downstream = {
  payouts: createRpcClient(PayoutService, config.PAYOUTS_URL, clientOptions),
  ledger: createRpcClient(LedgerService, config.LEDGER_URL, clientOptions),
  webhooks: createRpcClient(WebhookEndpointService, config.NOTIFIER_URL, clientOptions),
};
const server = await startRpcServer({
  port: config.GATEWAY_PORT,
  host: config.GATEWAY_HOST,
  logger,
  registry: metrics.registry,
  interceptors: [metrics.serverInterceptor],
  routes: (router) => router.service(PayoutService, publicPayoutService(down, auth, config.RPC_TIMEOUT_MS)),
  ready: () => db.ping(),
  fallback: restHandler({
    routes: restRoutes(down),
    auth,
    logger,
    maxBodyBytes: config.MAX_BODY_BYTES,
    timeoutMs: config.RPC_TIMEOUT_MS,
  }),
});
logger.info({ url: `http://${config.GATEWAY_HOST}:${server.port}` }, "gateway ready");
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [() => server.close(), () => db.close()]);
