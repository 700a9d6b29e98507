import { createLogger, createMetrics, loadConfig, onShutdown, openDatabase, startRpcServer } from "@mypay/kit";
import { NotifierService, WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { notifierSettings } from "./config.ts";
import { DeliveryLoop, scheduleDeliveries } from "./delivery/delivery-loop.ts";
import { createDeliveryMetrics } from "./delivery/delivery-metrics.ts";
import { systemResolver, type TargetPolicy } from "./delivery/target-guard.ts";
import { WebhookSender } from "./delivery/webhook-sender.ts";
import { notifierService, webhookEndpointService } from "./service.ts";
import { DeliveryStore } from "./store/delivery-store.ts";
import { EndpointStore } from "./store/endpoint-store.ts";
import { entities } from "./store/entities.ts";
import { EventStore } from "./store/event-store.ts";
import { migrations } from "./store/migrations/index.ts";

const config = loadConfig(notifierSettings, "notifier");
const logger = createLogger("notifier", config.LOG_LEVEL);
const metrics = createMetrics("notifier");
const db = await openDatabase({
  service: "notifier",
  settings: config,
  entities,
  migrations,
  logger,
  poolSize: config.NOTIFIER_DB_POOL,
});
const policy: TargetPolicy = { allowLoopback: config.NOTIFIER_ALLOW_LOOPBACK, resolve: systemResolver };
const deliveries = new DeliveryStore(db);
const sender = new WebhookSender({ policy, timeoutMs: config.NOTIFIER_TIMEOUT_MS });
const loop = new DeliveryLoop({
  store: deliveries,
  sender,
  logger,
  metrics: createDeliveryMetrics(metrics.registry, () => deliveries.queueDepth(), logger),
  retrySchedule: config.NOTIFIER_RETRY_SCHEDULE,
  batchSize: config.NOTIFIER_BATCH_SIZE,
  concurrency: config.NOTIFIER_CONCURRENCY,
  timeoutMs: config.NOTIFIER_TIMEOUT_MS,
});
const server = await startRpcServer({
  port: config.NOTIFIER_PORT,
  host: config.NOTIFIER_HOST,
  logger,
  registry: metrics.registry,
  interceptors: [metrics.serverInterceptor],
  routes: (router) => {
    const deps = {
      endpoints: new EndpointStore(db),
      events: new EventStore(db, config.NOTIFIER_RETRY_SCHEDULE),
      policy,
      onQueued: () => loop.wake(),
    };
    router.service(NotifierService, notifierService(deps));
    router.service(WebhookEndpointService, webhookEndpointService(deps));
  },
  ready: () => db.ping(),
});
const cron = scheduleDeliveries(loop, config.NOTIFIER_TICK_SECONDS, logger);
loop.wake(); // messages left due by an earlier run go out without waiting for the first tick
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [
  () => cron.stop(),
  () => loop.stop(),
  () => server.close(),
  () => sender.close(),
  () => db.close(),
]);
