import {
  createLogger,
  createMetrics,
  createRpcClient,
  loadConfig,
  onShutdown,
  openDatabase,
  startRpcServer,
} from "@mypay/kit";
import { Health } from "@mypay/proto/grpc/health/v1/health";
import { BalanceService, LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { NotifierService, WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { PayoutAdminService, PayoutBatchService, PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import { Authenticator } from "./auth.ts";
import { gatewaySettings } from "./config.ts";
import { consoleAssets } from "./console-assets.ts";
import type { Downstream } from "./downstream.ts";
import { createHttpMetrics } from "./http-metrics.ts";
import { openApiDocument } from "./openapi.ts";
import { PayoutReader } from "./payout-reads.ts";
import { publicProxy } from "./public-rpc.ts";
import { RateLimiter } from "./rate-limit.ts";
import { reflectionService, ServerReflection } from "./reflection.ts";
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
const auth = new Authenticator(keys, config.ADMIN_API_KEY, config.AUTH_CACHE_MS);
const limiter = new RateLimiter({
  read: { perSecond: config.RATE_LIMIT_READ_PER_SEC, burst: config.RATE_LIMIT_READ_BURST },
  write: { perSecond: config.RATE_LIMIT_WRITE_PER_SEC, burst: config.RATE_LIMIT_WRITE_BURST },
});
const httpMetrics = createHttpMetrics(metrics.registry);
const clientOptions = { timeoutMs: config.RPC_TIMEOUT_MS, interceptors: [metrics.clientInterceptor] };
const down: Downstream = {
  payouts: createRpcClient(PayoutService, config.PAYOUTS_URL, clientOptions),
  payoutReads: new PayoutReader(createRpcClient(PayoutBatchService, config.PAYOUTS_URL, clientOptions), {
    maxBatch: config.PAYOUT_READ_BATCH_MAX,
    concurrency: config.PAYOUT_READ_CONCURRENCY,
    timeoutMs: config.RPC_TIMEOUT_MS,
    onBatch: httpMetrics.readBatch,
  }),
  payoutAdmin: createRpcClient(PayoutAdminService, config.PAYOUTS_URL, clientOptions),
  ledger: createRpcClient(LedgerService, config.LEDGER_URL, clientOptions),
  balance: createRpcClient(BalanceService, config.LEDGER_URL, clientOptions),
  webhooks: createRpcClient(WebhookEndpointService, config.NOTIFIER_URL, clientOptions),
  notifier: createRpcClient(NotifierService, config.NOTIFIER_URL, clientOptions),
};
const routes = restRoutes(down, keys, auth, {
  ledger: config.LEDGER_URL,
  payouts: config.PAYOUTS_URL,
  notifier: config.NOTIFIER_URL,
});
/** What the gateway serves over gRPC, Connect and gRPC-Web; internal services are never exposed. */
const publicRpc = { auth, limiter, maxTimeoutMs: config.RPC_TIMEOUT_MS, onRateLimited: httpMetrics.rateLimited };
const server = await startRpcServer({
  port: config.GATEWAY_PORT,
  host: config.GATEWAY_HOST,
  logger,
  registry: metrics.registry,
  interceptors: [metrics.serverInterceptor],
  routes: (router) => {
    router.service(PayoutService, publicProxy(PayoutService, down.payouts, publicRpc));
    router.service(BalanceService, publicProxy(BalanceService, down.balance, publicRpc));
    router.service(WebhookEndpointService, publicProxy(WebhookEndpointService, down.webhooks, publicRpc));
    router.service(
      ServerReflection,
      reflectionService([PayoutService, BalanceService, WebhookEndpointService, Health]),
    );
  },
  ready: () => db.ping(),
  fallback: consoleAssets(
    restHandler({
      routes,
      auth,
      limiter,
      metrics: httpMetrics,
      openApi: openApiDocument(routes),
      logger,
      maxBodyBytes: config.MAX_BODY_BYTES,
      timeoutMs: config.RPC_TIMEOUT_MS,
    }),
  ),
});
logger.info({ url: `http://${config.GATEWAY_HOST}:${server.port}` }, "gateway ready");
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [() => server.close(), () => db.close()]);
